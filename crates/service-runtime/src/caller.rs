//! Who is calling: the one place that turns gRPC request metadata into a [`Caller`].
//!
//! The caller presents `authorization: Bearer <JWT>` whose claims name the
//! subject, organisation, organisation type, roles and province. This version
//! reads and checks the claims (shape, expiry) but does not yet verify the token's
//! signature: that is the security issue's change, and it is made here only,
//! in [`CallerExtractor::extract`].

use base64::Engine;
use serde::Deserialize;
use tonic::metadata::MetadataMap;

use crate::error::ServiceError;

/// The kinds of organisation that use the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationType {
    /// Hotspot, first reception (CPA, CAS), SAI.
    ReceptionOperator,
    Prefecture,
    /// Questura, border police.
    Police,
    /// Anti-violence centre, shelter, anti-trafficking project, health or social service.
    ReceivingService,
    /// Prefecture, ministry or monitoring body analysts: pseudonymised data only.
    Analyst,
    /// Keeps the directory of receiving organisations.
    Administrator,
}

impl OrganisationType {
    pub fn code(self) -> &'static str {
        match self {
            OrganisationType::ReceptionOperator => "reception_operator",
            OrganisationType::Prefecture => "prefecture",
            OrganisationType::Police => "police",
            OrganisationType::ReceivingService => "receiving_service",
            OrganisationType::Analyst => "analyst",
            OrganisationType::Administrator => "administrator",
        }
    }
}

/// An authenticated caller. Ids and codes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub organisation_id: String,
    pub organisation_type: OrganisationType,
    pub roles: Vec<String>,
    /// Province code (for example `RM`), when the organisation has one.
    pub province: Option<String>,
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

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    org: String,
    org_type: OrganisationType,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    province: Option<String>,
    exp: i64,
}

/// Turns request metadata into a caller. Every service uses this one extractor.
#[derive(Debug, Clone, Default)]
pub struct CallerExtractor;

impl CallerExtractor {
    pub fn extract(&self, metadata: &MetadataMap, now_unix: i64) -> Result<Caller, ServiceError> {
        let header = metadata
            .get("authorization")
            .ok_or_else(|| unauthenticated("missing bearer token"))?
            .to_str()
            .map_err(|_| unauthenticated("malformed authorization header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| unauthenticated("authorization is not a bearer token"))?;
        let mut parts = token.split('.');
        let (Some(_header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unauthenticated("token is not a JWT"));
        };
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| unauthenticated("token payload is not base64url"))?;
        let claims: Claims = serde_json::from_slice(&json)
            .map_err(|_| unauthenticated("token claims are invalid"))?;
        if claims.exp <= now_unix {
            return Err(unauthenticated("token expired"));
        }
        let valid_id =
            |s: &str| !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control);
        if !valid_id(&claims.sub) || !valid_id(&claims.org) {
            return Err(unauthenticated("token claims are invalid"));
        }
        Ok(Caller {
            subject: claims.sub,
            organisation_id: claims.org,
            organisation_type: claims.org_type,
            roles: claims.roles,
            province: claims.province.filter(|p| !p.is_empty()),
        })
    }

    /// Extracts the caller of a request, at the current time.
    pub fn caller<T>(&self, request: &tonic::Request<T>) -> Result<Caller, ServiceError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.extract(request.metadata(), now)
    }
}

fn unauthenticated(reason: &'static str) -> ServiceError {
    ServiceError::Unauthenticated(reason)
}

/// Builds an unsigned development token for `claims` (tests, CLI, local setup).
pub fn development_token(
    subject: &str,
    organisation_id: &str,
    organisation_type: OrganisationType,
    roles: &[&str],
    province: Option<&str>,
    expires_unix: i64,
) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "sub": subject,
        "org": organisation_id,
        "org_type": organisation_type.code(),
        "roles": roles,
        "province": province,
        "exp": expires_unix,
    });
    format!("{header}.{}.", engine.encode(claims.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: &str) -> MetadataMap {
        let mut map = MetadataMap::new();
        map.insert("authorization", value.parse().expect("ascii"));
        map
    }

    #[test]
    fn reads_the_caller_from_a_bearer_token() {
        let token = development_token(
            "op-1",
            "cas-7",
            OrganisationType::ReceptionOperator,
            &["operator"],
            Some("RM"),
            2_000,
        );
        let caller = CallerExtractor
            .extract(&metadata(&format!("Bearer {token}")), 1_000)
            .expect("caller");
        assert_eq!(caller.subject, "op-1");
        assert_eq!(caller.organisation_id, "cas-7");
        assert_eq!(
            caller.organisation_type,
            OrganisationType::ReceptionOperator
        );
        assert!(caller.has_role("operator"));
        assert_eq!(caller.province.as_deref(), Some("RM"));
    }

    #[test]
    fn refuses_missing_expired_and_malformed_tokens() {
        let expired = development_token("a", "b", OrganisationType::Analyst, &[], None, 999);
        for bad in [
            MetadataMap::new(),
            metadata("Basic abc"),
            metadata("Bearer not-a-jwt"),
            metadata("Bearer a.%%%.c"),
            metadata(&format!("Bearer {expired}")),
            metadata("Bearer e30.eyJzdWIiOiIifQ."),
        ] {
            let error = CallerExtractor.extract(&bad, 1_000).expect_err("refused");
            assert!(matches!(error, ServiceError::Unauthenticated(_)));
        }
    }
}
