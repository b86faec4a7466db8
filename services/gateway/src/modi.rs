//! PDND/ModI security (AgID, "Linee guida sull'interoperabilità tecnica", ModI):
//!
//! - the **voucher** (`Authorization: Bearer <JWT>`), issued by PDND: its
//!   algorithm (RS256, ES256 and the other asymmetric ones the platform's JWK
//!   set names), key id, signature, issuer, audience (the e-service's), expiry,
//!   not-before, issued-at, lifetime, `client_id` (or `sub`) among the
//!   configured consumers, and `purposeId`;
//! - **AUDIT_REST_02**: `Agid-JWT-TrackingEvidence`, a JWT signed with the
//!   consumer's key, naming the acting user (`userID`), where they act
//!   (`userLocation`), their level of assurance (`LoA`) and the same
//!   `purposeId`; the voucher's `digest` claim binds it (SHA-256 of the JWT);
//! - **INTEGRITY_REST_02**: on a request with a body, `Digest: SHA-256=<base64>`
//!   of the exact body bytes and `Agid-JWT-Signature`, a JWT signed with the
//!   consumer's key whose `signed_headers` carry that digest and the
//!   content type, for the e-service's audience, short-lived, its `jti` never
//!   seen before.
//!
//! Every refusal is a problem detail naming the check that failed, never the
//! tokens' contents.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use base64::Engine;
use http::HeaderMap;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use crate::config::{ConsumerConfig, PdndConfig};
use crate::problem::Problem;

pub const TRACKING_EVIDENCE: &str = "agid-jwt-trackingevidence";
pub const SIGNATURE: &str = "agid-jwt-signature";
pub const DIGEST: &str = "digest";

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot read the JWK set {0}: {1}")]
    Read(std::path::PathBuf, std::io::Error),
    #[error("{0} is not a JWK set: {1}")]
    Parse(std::path::PathBuf, String),
    #[error("{0}: key {1} has no kid, or an unsupported or symmetric algorithm")]
    Key(std::path::PathBuf, String),
}

/// Public keys by key id, each with the one algorithm it verifies.
pub struct Keys(HashMap<String, (DecodingKey, Algorithm)>);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Keys {
    /// The asymmetric keys of a JWK set file; every key needs a `kid`.
    pub fn from_file(path: &Path) -> Result<Keys, KeysError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| KeysError::Read(path.to_owned(), e))?;
        let set: JwkSet = serde_json::from_str(&text)
            .map_err(|e| KeysError::Parse(path.to_owned(), e.to_string()))?;
        let mut keys = HashMap::new();
        for (i, jwk) in set.keys.iter().enumerate() {
            let bad = || {
                KeysError::Key(
                    path.to_owned(),
                    jwk.common.key_id.clone().unwrap_or_else(|| format!("#{i}")),
                )
            };
            let kid = jwk.common.key_id.clone().ok_or_else(bad)?;
            let algorithm = match (&jwk.common.key_algorithm, &jwk.algorithm) {
                (Some(KeyAlgorithm::RS256), AlgorithmParameters::RSA(_))
                | (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
                (Some(KeyAlgorithm::RS384), AlgorithmParameters::RSA(_)) => Algorithm::RS384,
                (Some(KeyAlgorithm::RS512), AlgorithmParameters::RSA(_)) => Algorithm::RS512,
                (Some(KeyAlgorithm::PS256), AlgorithmParameters::RSA(_)) => Algorithm::PS256,
                (Some(KeyAlgorithm::ES256), AlgorithmParameters::EllipticCurve(_)) => {
                    Algorithm::ES256
                }
                (Some(KeyAlgorithm::ES384), AlgorithmParameters::EllipticCurve(_)) => {
                    Algorithm::ES384
                }
                (None, AlgorithmParameters::EllipticCurve(ec)) => match ec.curve {
                    EllipticCurve::P256 => Algorithm::ES256,
                    EllipticCurve::P384 => Algorithm::ES384,
                    _ => return Err(bad()),
                },
                (Some(KeyAlgorithm::EdDSA) | None, AlgorithmParameters::OctetKeyPair(_)) => {
                    Algorithm::EdDSA
                }
                _ => return Err(bad()),
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|_| bad())?;
            keys.insert(kid, (key, algorithm));
        }
        Ok(Keys(keys))
    }
}

/// What the checks established about a request.
#[derive(Debug, Clone)]
pub struct Verified {
    pub consumer: ConsumerConfig,
    pub purpose_id: String,
    /// The voucher's `jti`, for the access log.
    pub voucher_id: String,
    /// The tracking evidence's `jti`.
    pub tracking_id: String,
    /// A pseudonym of the acting user: the first 16 hex digits of
    /// SHA-256(client_id, userID). The user id itself (often a fiscal code) is
    /// personal data and is neither logged nor passed on.
    pub user_ref: String,
    pub user_location: String,
    pub loa: String,
    /// The integrity signature's `jti`, for requests with a body.
    pub signature_id: Option<String>,
}

struct Consumer {
    config: ConsumerConfig,
    keys: Keys,
}

pub struct Modi {
    config: PdndConfig,
    platform: Keys,
    consumers: HashMap<String, Consumer>,
    /// `client_id jti` of integrity signatures seen, until they expire.
    seen: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for Modi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Modi")
            .field("issuer", &self.config.issuer)
            .field("audience", &self.config.audience)
            .field("consumers", &self.consumers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct VoucherClaims {
    sub: Option<String>,
    client_id: Option<String>,
    #[serde(rename = "purposeId")]
    purpose_id: Option<String>,
    jti: Option<String>,
    iat: Option<i64>,
    exp: i64,
    digest: Option<DigestClaim>,
}

#[derive(Deserialize)]
struct DigestClaim {
    alg: String,
    value: String,
}

#[derive(Deserialize)]
struct TrackingClaims {
    #[serde(rename = "purposeId")]
    purpose_id: Option<String>,
    #[serde(rename = "userID")]
    user_id: Option<String>,
    #[serde(rename = "userLocation")]
    user_location: Option<String>,
    #[serde(rename = "LoA")]
    loa: Option<String>,
    jti: Option<String>,
    iat: Option<i64>,
    exp: i64,
}

#[derive(Deserialize)]
struct SignatureClaims {
    jti: Option<String>,
    iat: Option<i64>,
    exp: i64,
    #[serde(default)]
    signed_headers: Vec<BTreeMap<String, String>>,
}

/// Why a JWT was refused, in words without its contents.
fn jwt_reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidIssuer => "its issuer is not the trusted one",
        ErrorKind::InvalidAudience => "it is not for this e-service's audience",
        ErrorKind::ExpiredSignature => "it has expired",
        ErrorKind::ImmatureSignature => "it is not valid yet",
        ErrorKind::InvalidSignature => "its signature does not verify",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "its algorithm is not the key's"
        }
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        _ => "it is not a well-formed signed JWT",
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Modi {
    pub fn new(config: PdndConfig) -> Result<Modi, KeysError> {
        let platform = Keys::from_file(&config.jwks_file)?;
        let mut consumers = HashMap::new();
        for consumer in &config.consumers {
            consumers.insert(
                consumer.client_id.clone(),
                Consumer {
                    keys: Keys::from_file(&consumer.jwks_file)?,
                    config: consumer.clone(),
                },
            );
        }
        Ok(Modi {
            config,
            platform,
            consumers,
            seen: Mutex::new(HashMap::new()),
        })
    }

    pub fn audience(&self) -> &str {
        &self.config.audience
    }

    /// A JWT signed with one of `keys`, for the e-service's audience (and by
    /// `issuer` if given), within its time, at most `max_lifetime` long.
    fn jwt<T: DeserializeOwned>(
        &self,
        token: &str,
        keys: &Keys,
        issuer: Option<&str>,
        max_lifetime: i64,
        now: i64,
        times: impl Fn(&T) -> (Option<i64>, i64),
    ) -> Result<T, &'static str> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| "it is not a well-formed signed JWT (unsigned or unknown algorithm)")?;
        let kid = header.kid.ok_or("its header names no key (kid)")?;
        let (key, algorithm) = keys
            .0
            .get(&kid)
            .ok_or("it is signed with a key that is not trusted")?;
        if header.alg != *algorithm {
            return Err("its algorithm is not the key's");
        }
        let mut validation = Validation::new(*algorithm);
        validation.leeway = self.config.leeway_secs;
        validation.validate_nbf = true;
        validation.set_audience(&[&self.config.audience]);
        if let Some(issuer) = issuer {
            validation.set_issuer(&[issuer]);
            validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
        } else {
            validation.set_required_spec_claims(&["exp", "iat", "aud"]);
        }
        let claims = jsonwebtoken::decode::<T>(token, key, &validation)
            .map_err(|e| jwt_reason(e.kind()))?
            .claims;
        let (issued_at, expires_at) = times(&claims);
        let issued_at = issued_at.ok_or("a required claim is missing")?;
        let leeway = i64::try_from(self.config.leeway_secs).unwrap_or(0);
        if issued_at > now + leeway {
            return Err("it is issued in the future");
        }
        if expires_at.saturating_sub(issued_at) > max_lifetime {
            return Err("it is valid for longer than allowed");
        }
        Ok(claims)
    }

    /// Every ModI check on a request: its headers and, when it has one, its body.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: Option<&[u8]>,
        now: i64,
    ) -> Result<Verified, Problem> {
        // The voucher.
        let voucher = header_str(headers, "authorization")
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Problem::unauthorized(
                    "invalid-voucher",
                    "a PDND voucher is required: Authorization: Bearer <voucher>",
                )
            })?;
        let claims: VoucherClaims = self
            .jwt(
                voucher,
                &self.platform,
                Some(&self.config.issuer),
                self.config.max_voucher_lifetime_secs,
                now,
                |c: &VoucherClaims| (c.iat, c.exp),
            )
            .map_err(|reason| {
                Problem::unauthorized(
                    "invalid-voucher",
                    format!("the voucher is refused: {reason}"),
                )
            })?;
        let client_id = claims
            .client_id
            .clone()
            .or_else(|| claims.sub.clone())
            .ok_or_else(|| {
                Problem::unauthorized(
                    "invalid-voucher",
                    "the voucher is refused: it names no client_id",
                )
            })?;
        let purpose_id = claims
            .purpose_id
            .clone()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                Problem::unauthorized(
                    "invalid-voucher",
                    "the voucher is refused: it names no purposeId",
                )
            })?;
        let consumer = self.consumers.get(&client_id).ok_or_else(|| {
            Problem::forbidden(
                "unknown-consumer",
                "the voucher's client is not a consumer of this e-service",
            )
        })?;

        // AUDIT_REST_02: who acts, bound to the voucher.
        let evidence = header_str(headers, TRACKING_EVIDENCE)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Problem::unauthorized(
                    "invalid-tracking-evidence",
                    "Agid-JWT-TrackingEvidence is required",
                )
            })?;
        let tracking: TrackingClaims = self
            .jwt(
                evidence,
                &consumer.keys,
                None,
                self.config.max_signature_lifetime_secs,
                now,
                |c: &TrackingClaims| (c.iat, c.exp),
            )
            .map_err(|reason| {
                Problem::unauthorized(
                    "invalid-tracking-evidence",
                    format!("Agid-JWT-TrackingEvidence is refused: {reason}"),
                )
            })?;
        let tracking_refused = |what: &str| {
            Problem::unauthorized(
                "invalid-tracking-evidence",
                format!("Agid-JWT-TrackingEvidence is refused: {what}"),
            )
        };
        if tracking.purpose_id.as_deref() != Some(purpose_id.as_str()) {
            return Err(tracking_refused("its purposeId is not the voucher's"));
        }
        let (Some(user_id), Some(user_location), Some(loa)) = (
            tracking.user_id.filter(|s| !s.is_empty()),
            tracking.user_location.filter(|s| !s.is_empty()),
            tracking.loa.filter(|s| !s.is_empty()),
        ) else {
            return Err(tracking_refused(
                "userID, userLocation and LoA are required",
            ));
        };
        if !is_code(&user_location) || !is_code(&loa) {
            return Err(tracking_refused(
                "userLocation and LoA must be codes (1 to 64 characters of [A-Za-z0-9._:-])",
            ));
        }
        match &claims.digest {
            Some(digest) => {
                let expected = hex_sha256(evidence.as_bytes());
                if !digest.alg.eq_ignore_ascii_case("SHA256")
                    || !digest.value.eq_ignore_ascii_case(&expected)
                {
                    return Err(tracking_refused(
                        "it is not the one the voucher's digest binds",
                    ));
                }
            }
            None if self.config.tracking_digest_required => {
                return Err(Problem::unauthorized(
                    "invalid-voucher",
                    "the voucher is refused: it carries no digest of the tracking evidence (AUDIT_REST_02)",
                ));
            }
            None => {}
        }

        // INTEGRITY_REST_02: the body as sent.
        let signature_id = match body {
            None => None,
            Some(body) => Some(self.integrity(headers, body, consumer, &client_id, now)?),
        };
        let user_ref = hex_sha256(format!("{client_id}\n{user_id}").as_bytes())[..16].to_owned();
        Ok(Verified {
            consumer: consumer.config.clone(),
            purpose_id,
            voucher_id: claims.jti.unwrap_or_default(),
            tracking_id: tracking.jti.unwrap_or_default(),
            user_ref,
            user_location,
            loa,
            signature_id,
        })
    }

    fn integrity(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        consumer: &Consumer,
        client_id: &str,
        now: i64,
    ) -> Result<String, Problem> {
        let digest = header_str(headers, DIGEST).ok_or_else(|| {
            Problem::new(
                http::StatusCode::BAD_REQUEST,
                "digest-mismatch",
                "Body integrity not shown",
                "Digest: SHA-256=<base64 of the body's SHA-256> is required",
            )
        })?;
        let actual = format!(
            "SHA-256={}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
        );
        if digest != actual {
            return Err(Problem::new(
                http::StatusCode::BAD_REQUEST,
                "digest-mismatch",
                "Body integrity not shown",
                "the Digest header is not the SHA-256 of the body",
            ));
        }
        let signature = header_str(headers, SIGNATURE)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Problem::unauthorized(
                    "invalid-signature",
                    "Agid-JWT-Signature is required on a request with a body",
                )
            })?;
        let refused = |what: &str| {
            Problem::unauthorized(
                "invalid-signature",
                format!("Agid-JWT-Signature is refused: {what}"),
            )
        };
        let claims: SignatureClaims = self
            .jwt(
                signature,
                &consumer.keys,
                None,
                self.config.max_signature_lifetime_secs,
                now,
                |c: &SignatureClaims| (c.iat, c.exp),
            )
            .map_err(refused)?;
        let signed = |name: &str| {
            claims
                .signed_headers
                .iter()
                .flat_map(|h| h.iter())
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        if signed("digest") != Some(digest) {
            return Err(refused(
                "its signed_headers do not carry the request's Digest",
            ));
        }
        let content_type = header_str(headers, "content-type").unwrap_or_default();
        if signed("content-type") != Some(content_type) {
            return Err(refused(
                "its signed_headers do not carry the request's Content-Type",
            ));
        }
        let jti = claims
            .jti
            .filter(|j| !j.is_empty())
            .ok_or_else(|| refused("it has no jti"))?;
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.retain(|_, expires| {
            *expires + i64::try_from(self.config.leeway_secs).unwrap_or(0) >= now
        });
        if seen
            .insert(format!("{client_id} {jti}"), claims.exp)
            .is_some()
        {
            return Err(refused("its jti was used before (a replay)"));
        }
        Ok(jti)
    }
}

/// An identifier-like code: no free text.
fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b))
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
