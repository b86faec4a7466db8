//! The identity provider of the test process: every service of every `System`
//! trusts it, and it signs a token for any organisation type, organisation and
//! province. Clients carry the token as a bearer header.

use std::sync::OnceLock;

use service_runtime::caller::{OrganisationType, TokenIssuer, Validity};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;

/// The issuer services trust; tokens are signed by it, for the default audience.
pub fn issuer() -> &'static TokenIssuer {
    static ISSUER: OnceLock<TokenIssuer> = OnceLock::new();
    ISSUER.get_or_init(|| TokenIssuer::generate("approdo-tests").expect("a token issuer"))
}

/// How long a test token is valid: one hour, well within the services' maximum
/// lifetime, longer than any test runs.
const TOKEN_LIFETIME_SECS: i64 = 3_600;

/// A token for a user of `organisation` (of type `org_type`, in `province`),
/// issued now (the system clock, which the services check tokens against).
pub fn token(org_type: OrganisationType, organisation: &str, province: Option<&str>) -> String {
    token_with_roles(org_type, organisation, province, &["operator"])
}

/// As [`token`], for a user acting in `roles`.
pub fn token_with_roles(
    org_type: OrganisationType,
    organisation: &str,
    province: Option<&str>,
    roles: &[&str],
) -> String {
    issuer()
        .token(
            "tester",
            organisation,
            org_type,
            roles,
            province,
            Validity::from_now(TOKEN_LIFETIME_SECS),
        )
        .expect("a signed token")
}

/// `message` as a request carrying `token`.
pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer(token));
    request
}

fn bearer(token: &str) -> AsciiMetadataValue {
    MetadataValue::try_from(format!("Bearer {token}")).expect("a token is ascii")
}

/// Who calls: an organisation of a type, in a province.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org_type: OrganisationType,
    pub organisation: String,
    pub province: Option<String>,
    /// The user's roles; `operator` unless said.
    pub roles: Vec<&'static str>,
}

impl Caller {
    pub fn new(org_type: OrganisationType, organisation: &str, province: Option<&str>) -> Caller {
        Caller {
            org_type,
            organisation: organisation.to_owned(),
            province: province.map(str::to_owned),
            roles: vec!["operator"],
        }
    }

    /// The same organisation, its user acting in `roles`.
    pub fn with_roles(mut self, roles: &[&'static str]) -> Caller {
        self.roles = roles.to_vec();
        self
    }

    /// The ministry's administrator.
    pub fn administrator() -> Caller {
        Caller::new(OrganisationType::Administrator, "ministry", None)
    }

    /// A reception operator of `facility`, in `province`.
    pub fn operator(facility: &str, province: &str) -> Caller {
        Caller::new(
            OrganisationType::ReceptionOperator,
            facility,
            Some(province),
        )
    }

    /// The prefecture of `province`.
    pub fn prefecture(organisation: &str, province: &str) -> Caller {
        Caller::new(OrganisationType::Prefecture, organisation, Some(province))
    }

    /// A receiving service (an anti-violence centre, a shelter).
    pub fn receiver(organisation: &str, province: Option<&str>) -> Caller {
        Caller::new(OrganisationType::ReceivingService, organisation, province)
    }

    pub fn token(&self) -> String {
        token_with_roles(
            self.org_type,
            &self.organisation,
            self.province.as_deref(),
            &self.roles,
        )
    }

    /// `message` as a request of this caller.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        with_token(message, &self.token())
    }

    /// Attaches this caller's token to every request that carries none.
    pub fn bearer(&self) -> Bearer {
        Bearer(bearer(&self.token()))
    }
}

/// A client interceptor adding a bearer token to requests without one (a
/// request built with [`with_token`] keeps its own).
#[derive(Debug, Clone)]
pub struct Bearer(AsciiMetadataValue);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if !request.metadata().contains_key("authorization") {
            request
                .metadata_mut()
                .insert("authorization", self.0.clone());
        }
        Ok(request)
    }
}
