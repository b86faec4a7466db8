//! Who is calling: the one place that turns gRPC request metadata into a [`Caller`].
//!
//! Every RPC requires `authorization: Bearer <JWT>` signed with Ed25519 (`alg:
//! EdDSA`) by a configured issuer. The claims name the subject, organisation,
//! organisation type, roles, province and expiry. Missing, malformed, expired,
//! badly signed, tampered, unsigned (`alg: none`) and unknown-issuer tokens are
//! `UNAUTHENTICATED`. [`TokenIssuer`] is the one place tokens are signed (local
//! setup, CLI, tests); production tokens come from the identity provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use tonic::metadata::MetadataMap;

use crate::error::ServiceError;

/// The kinds of organisation that use the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    pub const ALL: [OrganisationType; 6] = [
        OrganisationType::ReceptionOperator,
        OrganisationType::Prefecture,
        OrganisationType::Police,
        OrganisationType::ReceivingService,
        OrganisationType::Analyst,
        OrganisationType::Administrator,
    ];

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

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
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

/// The claims of an Approdo token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub org: String,
    pub org_type: OrganisationType,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub province: Option<String>,
    pub exp: i64,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

/// An issuer whose tokens are accepted, as configured.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The `iss` claim.
    pub issuer: String,
    /// The Ed25519 public key, 64 hex characters.
    pub public_key: Option<String>,
    /// Or a file holding it.
    pub public_key_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("issuer {0} has no public key (set public_key or public_key_file)")]
    Missing(String),
    #[error("cannot read the key file {0}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("the key of issuer {0} is not 32 bytes of hex")]
    Malformed(String),
}

fn key_bytes(hex_text: &str, who: &str) -> Result<[u8; 32], KeyError> {
    hex::decode(hex_text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| KeyError::Malformed(who.to_owned()))
}

/// Turns request metadata into a caller. Every service uses this one extractor.
#[derive(Debug, Clone)]
pub struct CallerExtractor {
    issuers: Arc<Vec<(String, VerifyingKey)>>,
}

impl CallerExtractor {
    pub fn new(issuers: Vec<(String, VerifyingKey)>) -> Self {
        CallerExtractor {
            issuers: Arc::new(issuers),
        }
    }

    /// The extractor for the configured issuers (keys read from files if needed).
    pub fn from_config(issuers: &[IssuerConfig]) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for issuer in issuers {
            let text = match (&issuer.public_key, &issuer.public_key_file) {
                (Some(key), _) => key.clone(),
                (None, Some(file)) => {
                    std::fs::read_to_string(file).map_err(|e| KeyError::Read(file.clone(), e))?
                }
                (None, None) => return Err(KeyError::Missing(issuer.issuer.clone())),
            };
            let bytes = key_bytes(&text, &issuer.issuer)?;
            let key = VerifyingKey::from_bytes(&bytes)
                .map_err(|_| KeyError::Malformed(issuer.issuer.clone()))?;
            keys.push((issuer.issuer.clone(), key));
        }
        Ok(CallerExtractor::new(keys))
    }

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
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unauthenticated("token is not a JWT"));
        };
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: Header = engine
            .decode(header_b64)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| unauthenticated("token header is invalid"))?;
        if header.alg != "EdDSA" {
            return Err(unauthenticated("token must be signed with EdDSA"));
        }
        let claims: Claims = engine
            .decode(payload_b64)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| unauthenticated("token claims are invalid"))?;
        let key = self
            .issuers
            .iter()
            .find(|(issuer, _)| *issuer == claims.iss)
            .map(|(_, key)| key)
            .ok_or_else(|| unauthenticated("unknown token issuer"))?;
        let signature = engine
            .decode(signature_b64)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or_else(|| unauthenticated("token signature is malformed"))?;
        let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
        key.verify(signed.as_bytes(), &signature)
            .map_err(|_| unauthenticated("token signature is invalid"))?;
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

/// Signs tokens: the local setup's and the tests' identity provider.
#[derive(Clone)]
pub struct TokenIssuer {
    issuer: String,
    key: SigningKey,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// A new issuer with a fresh random key.
    pub fn generate(issuer: &str) -> Self {
        TokenIssuer {
            issuer: issuer.to_owned(),
            key: SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
        }
    }

    /// The issuer whose 32-byte secret seed is stored, in hex, in `file`.
    pub fn from_seed_file(issuer: &str, file: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(file).map_err(|e| KeyError::Read(file.to_owned(), e))?;
        Ok(TokenIssuer {
            issuer: issuer.to_owned(),
            key: SigningKey::from_bytes(&key_bytes(&text, issuer)?),
        })
    }

    /// The secret seed, hex: write it only to a file only its owner can read.
    pub fn seed_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The configuration entry that trusts this issuer.
    pub fn config(&self) -> IssuerConfig {
        IssuerConfig {
            issuer: self.issuer.clone(),
            public_key: Some(self.public_key_hex()),
            public_key_file: None,
        }
    }

    pub fn extractor(&self) -> CallerExtractor {
        CallerExtractor::new(vec![(self.issuer.clone(), self.key.verifying_key())])
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"EdDSA","typ":"JWT"}"#);
        let payload = engine.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signed = format!("{header}.{payload}");
        let signature = self.key.sign(signed.as_bytes());
        format!("{signed}.{}", engine.encode(signature.to_bytes()))
    }

    /// A token for an organisation, valid until `expires_unix`.
    pub fn token(
        &self,
        subject: &str,
        organisation_id: &str,
        organisation_type: OrganisationType,
        roles: &[&str],
        province: Option<&str>,
        expires_unix: i64,
    ) -> String {
        self.sign(&Claims {
            iss: self.issuer.clone(),
            sub: subject.to_owned(),
            org: organisation_id.to_owned(),
            org_type: organisation_type,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            province: province.map(str::to_owned),
            exp: expires_unix,
        })
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

    #[test]
    fn reads_the_caller_from_a_signed_token() {
        let issuer = TokenIssuer::generate("test");
        let token = issuer.token(
            "op-1",
            "cas-7",
            OrganisationType::ReceptionOperator,
            &["operator"],
            Some("RM"),
            2_000,
        );
        let caller = issuer
            .extractor()
            .extract(&bearer(&token), 1_000)
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

    fn refused(extractor: &CallerExtractor, metadata: &MetadataMap) -> &'static str {
        match extractor.extract(metadata, 1_000) {
            Err(ServiceError::Unauthenticated(reason)) => reason,
            other => panic!("expected UNAUTHENTICATED, got {other:?}"),
        }
    }

    #[test]
    fn refuses_expired_wrong_key_tampered_unsigned_and_unknown_issuer_tokens() {
        let issuer = TokenIssuer::generate("test");
        let extractor = issuer.extractor();
        let valid = issuer.token("a", "org-a", OrganisationType::Analyst, &[], None, 2_000);

        let expired = issuer.token("a", "org-a", OrganisationType::Analyst, &[], None, 999);
        assert_eq!(refused(&extractor, &bearer(&expired)), "token expired");

        let impostor = TokenIssuer::generate("test");
        let wrong_key = impostor.token(
            "a",
            "org-a",
            OrganisationType::Administrator,
            &[],
            None,
            2_000,
        );
        assert_eq!(
            refused(&extractor, &bearer(&wrong_key)),
            "token signature is invalid"
        );

        // Claims changed after signing: an analyst promoting itself to administrator.
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = valid.split('.').collect();
        let claims = String::from_utf8(engine.decode(parts[1]).expect("b64")).expect("utf8");
        let forged = engine.encode(claims.replace("analyst", "administrator"));
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_eq!(
            refused(&extractor, &bearer(&tampered)),
            "token signature is invalid"
        );

        let none_header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(
            refused(&extractor, &bearer(&unsigned)),
            "token must be signed with EdDSA"
        );

        let stranger = TokenIssuer::generate("somebody-else");
        let unknown = stranger.token("a", "org-a", OrganisationType::Analyst, &[], None, 2_000);
        assert_eq!(
            refused(&extractor, &bearer(&unknown)),
            "unknown token issuer"
        );

        for bad in [
            MetadataMap::new(),
            metadata("Basic abc"),
            bearer("not-a-jwt"),
            bearer("a.%%%.c"),
        ] {
            refused(&extractor, &bad);
        }
        assert!(extractor.extract(&bearer(&valid), 1_000).is_ok());
    }

    proptest::proptest! {
        /// Arbitrary authorization headers are refused cleanly, never accepted, never a panic.
        #[test]
        fn arbitrary_tokens_are_refused_without_panicking(
            header in "[ -~]{0,300}",
            parts in proptest::collection::vec("[A-Za-z0-9_-]{0,80}", 0..5),
        ) {
            let extractor = TokenIssuer::generate("fuzz").extractor();
            if let Ok(value) = header.parse() {
                let mut map = MetadataMap::new();
                map.insert("authorization", value);
                proptest::prop_assert!(extractor.extract(&map, 1_000).is_err());
            }
            let token = parts.join(".");
            proptest::prop_assert!(extractor.extract(&bearer(&token), 1_000).is_err());
        }
    }

    #[test]
    fn keys_round_trip_through_their_hex_files() {
        let issuer = TokenIssuer::generate("local");
        let dir = tempfile::tempdir().expect("dir");
        let seed = dir.path().join("seed");
        std::fs::write(&seed, issuer.seed_hex()).expect("write");
        let reloaded = TokenIssuer::from_seed_file("local", &seed).expect("reload");
        assert_eq!(reloaded.public_key_hex(), issuer.public_key_hex());
        let public = dir.path().join("public");
        std::fs::write(&public, issuer.public_key_hex()).expect("write");
        let extractor = CallerExtractor::from_config(&[IssuerConfig {
            issuer: "local".to_owned(),
            public_key: None,
            public_key_file: Some(public),
        }])
        .expect("extractor");
        let token = reloaded.token("s", "o", OrganisationType::Police, &[], None, 2_000);
        assert!(extractor.extract(&bearer(&token), 1_000).is_ok());
    }
}
