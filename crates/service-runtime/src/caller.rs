//! Who is calling: the one place that turns gRPC request metadata into a [`Caller`].
//!
//! Every RPC requires `authorization: Bearer <JWT>`, verified by
//! [`access_token::TokenVerifier`] (EdDSA, a configured issuer and key id, this
//! service's audience, within its validity and the maximum lifetime).
//! A refused token is `UNAUTHENTICATED`. The authorisation layer verifies the
//! token once per RPC and leaves the caller in the request's extensions, where
//! [`CallerExtractor::caller`] reads it: handlers never verify again.

use access_token::{Claims, TokenVerifier};
use tonic::metadata::MetadataMap;

use crate::error::ServiceError;

pub use access_token::{
    AuthConfig, IssuerConfig, KeyConfig, KeyError, OrganisationType, TokenIssuer, Validity,
};

/// An authenticated caller. Ids and codes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub organisation_id: String,
    pub organisation_type: OrganisationType,
    pub roles: Vec<String>,
    /// Province code (for example `RM`), when the organisation has one.
    pub province: Option<String>,
    /// When the verified token expires (its `exp`, Unix seconds): what the
    /// caller may do ends then, open streams too.
    pub expires_at: i64,
}

impl Caller {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The actor recorded in commits this caller causes.
    pub fn actor(&self) -> case_log_jetstream::Actor {
        case_log_jetstream::Actor {
            subject: self.subject.clone(),
            organisation_id: self.organisation_id.clone(),
            organisation_type: self.organisation_type.code().to_owned(),
            roles: self.roles.clone(),
            province: self.province.clone().unwrap_or_default(),
        }
    }
}

impl From<Claims> for Caller {
    fn from(claims: Claims) -> Self {
        Caller {
            subject: claims.sub,
            organisation_id: claims.org,
            organisation_type: claims.org_type,
            roles: claims.roles,
            province: claims.province.filter(|p| !p.is_empty()),
            expires_at: claims.exp,
        }
    }
}

/// The caller the authorisation layer verified, in a request's extensions.
/// Only this crate creates it, so nothing else can pass a caller off as verified.
#[derive(Debug, Clone)]
pub(crate) struct Verified(pub(crate) Caller);

/// Turns request metadata into a caller. Every service uses this one extractor.
#[derive(Debug, Clone)]
pub struct CallerExtractor {
    verifier: TokenVerifier,
}

impl CallerExtractor {
    pub fn new(verifier: TokenVerifier) -> Self {
        CallerExtractor { verifier }
    }

    /// The extractor for the configured audience, time rules and issuers (keys
    /// read from files and JWK sets).
    pub fn from_config(auth: &AuthConfig) -> Result<Self, KeyError> {
        Ok(CallerExtractor::new(TokenVerifier::from_config(auth)?))
    }

    /// The extractor that trusts `issuer` only (tests, local setup).
    pub fn trusting(issuer: &TokenIssuer) -> Self {
        CallerExtractor::new(issuer.verifier())
    }

    /// Verifies the bearer token of `metadata` at `now_unix`.
    pub fn extract(&self, metadata: &MetadataMap, now_unix: i64) -> Result<Caller, ServiceError> {
        let header = metadata
            .get("authorization")
            .ok_or(ServiceError::Unauthenticated("missing bearer token"))?
            .to_str()
            .map_err(|_| ServiceError::Unauthenticated("malformed authorization header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or(ServiceError::Unauthenticated(
                "authorization is not a bearer token",
            ))?;
        self.verifier
            .verify(token, now_unix)
            .map(Caller::from)
            .map_err(|refused| ServiceError::Unauthenticated(refused.reason()))
    }

    /// Verifies the bearer token of `metadata` now.
    pub(crate) fn extract_now(&self, metadata: &MetadataMap) -> Result<Caller, ServiceError> {
        self.extract(metadata, access_token::now_unix())
    }

    /// The caller of a request, as the authorisation layer verified it. A
    /// request that did not pass the layer has none: `UNAUTHENTICATED`, never
    /// a second verification.
    pub fn caller<T>(&self, request: &tonic::Request<T>) -> Result<Caller, ServiceError> {
        request
            .extensions()
            .get::<Verified>()
            .map(|verified| verified.0.clone())
            .ok_or(ServiceError::Unauthenticated(
                "the request was not authenticated",
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: &str) -> MetadataMap {
        let mut map = MetadataMap::new();
        map.insert("authorization", value.parse().expect("ascii"));
        map
    }

    fn bearer(token: &str) -> MetadataMap {
        metadata(&format!("Bearer {token}"))
    }

    fn refused(extractor: &CallerExtractor, metadata: &MetadataMap) -> &'static str {
        match extractor.extract(metadata, 1_000_000) {
            Err(ServiceError::Unauthenticated(reason)) => reason,
            other => panic!("expected UNAUTHENTICATED, got {other:?}"),
        }
    }

    #[test]
    fn reads_the_caller_from_a_bearer_token() {
        let issuer = TokenIssuer::generate("test").expect("issuer");
        let token = issuer
            .token(
                "op-1",
                "cas-7",
                OrganisationType::ReceptionOperator,
                &["operator"],
                Some("RM"),
                Validity::starting(1_000_000, 60),
            )
            .expect("token");
        let caller = CallerExtractor::trusting(&issuer)
            .extract(&bearer(&token), 1_000_000)
            .expect("caller");
        assert_eq!(caller.subject, "op-1");
        assert_eq!(caller.organisation_id, "cas-7");
        assert_eq!(
            caller.organisation_type,
            OrganisationType::ReceptionOperator
        );
        assert!(caller.has_role("operator"));
        assert_eq!(caller.province.as_deref(), Some("RM"));
        assert_eq!(caller.expires_at, 1_000_060, "the token's exp");
        let no_province = issuer
            .token(
                "s",
                "o",
                OrganisationType::Police,
                &[],
                Some(""),
                Validity::starting(1_000_000, 60),
            )
            .expect("token");
        let caller = CallerExtractor::trusting(&issuer)
            .extract(&bearer(&no_province), 1_000_000)
            .expect("caller");
        assert_eq!(caller.province, None);
    }

    #[test]
    fn refuses_missing_non_bearer_and_invalid_tokens_as_unauthenticated() {
        let issuer = TokenIssuer::generate("test").expect("issuer");
        let extractor = CallerExtractor::trusting(&issuer);
        assert_eq!(
            refused(&extractor, &MetadataMap::new()),
            "missing bearer token"
        );
        assert_eq!(
            refused(&extractor, &metadata("Basic abc")),
            "authorization is not a bearer token"
        );
        assert_eq!(
            refused(&extractor, &bearer("not-a-jwt")),
            "token is not a JWT"
        );
        let expired = issuer
            .token(
                "a",
                "org-a",
                OrganisationType::Analyst,
                &[],
                None,
                Validity::starting(900_000, 60),
            )
            .expect("token");
        assert_eq!(refused(&extractor, &bearer(&expired)), "token expired");
        let elsewhere = issuer.clone().with_audience("another-system");
        let not_ours = elsewhere
            .token(
                "a",
                "org-a",
                OrganisationType::Analyst,
                &[],
                None,
                Validity::starting(1_000_000, 60),
            )
            .expect("token");
        assert_eq!(
            refused(&extractor, &bearer(&not_ours)),
            "token is not for this service"
        );
    }

    #[test]
    fn a_request_that_did_not_pass_the_layer_has_no_caller() {
        let issuer = TokenIssuer::generate("test").expect("issuer");
        let token = issuer
            .token(
                "s",
                "o",
                OrganisationType::Police,
                &[],
                None,
                Validity::from_now(60),
            )
            .expect("token");
        let mut request = tonic::Request::new(());
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
        // A valid token is not enough: the caller is read from the layer's verdict.
        assert_eq!(
            CallerExtractor::trusting(&issuer).caller(&request),
            Err(ServiceError::Unauthenticated(
                "the request was not authenticated"
            ))
        );
    }
}
