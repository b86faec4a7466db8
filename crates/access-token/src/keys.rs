//! What a service trusts: the audience it answers to, the time rules, the
//! issuers and their Ed25519 public keys, each named by a key id (`kid`), given
//! as hex (inline or in a file) or read from a JWK set file. Several keys per
//! issuer allow rotation: sign with the new key while the old one is still
//! listed, then drop the old one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use ed25519_dalek::VerifyingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use serde::Deserialize;
use zeroize::Zeroizing;

/// The audience a service answers to unless configured otherwise, and the one
/// [`crate::TokenIssuer`] writes unless told otherwise.
pub const DEFAULT_AUDIENCE: &str = "approdo";

/// Whose tokens a service accepts, and for whom and how long they hold.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The `aud` a token must name (one of its values).
    pub audience: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub leeway_secs: u64,
    /// The longest a token may be valid (`exp - iat`), in seconds; longer ones are refused.
    pub max_lifetime_secs: u64,
    /// The trusted issuers; with none, every token is refused.
    pub issuers: Vec<IssuerConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            audience: DEFAULT_AUDIENCE.to_owned(),
            leeway_secs: 30,
            max_lifetime_secs: 12 * 3_600,
            issuers: Vec::new(),
        }
    }
}

/// An issuer whose tokens are accepted, as configured: its keys listed, or in
/// a JWK set file, or both.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The `iss` claim.
    pub issuer: String,
    /// Its keys, each with its `kid`.
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
    /// A JWK set (`{"keys": [...]}`) whose Ed25519 keys (`kty: OKP`, `crv: Ed25519`) are trusted.
    pub jwks_file: Option<PathBuf>,
}

/// No key material in debug output: a configuration can be logged whole.
impl std::fmt::Debug for IssuerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerConfig")
            .field("issuer", &self.issuer)
            .field("keys", &self.keys)
            .field("jwks_file", &self.jwks_file)
            .finish()
    }
}

/// One public key of an issuer.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The key id tokens signed with it carry in their header.
    pub kid: String,
    /// The Ed25519 public key, 64 hex characters.
    pub public_key: Option<String>,
    /// Or a file holding it.
    pub public_key_file: Option<PathBuf>,
}

impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyConfig")
            .field("kid", &self.kid)
            .field(
                "public_key",
                &self.public_key.as_ref().map(|_| "<redacted>"),
            )
            .field("public_key_file", &self.public_key_file)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("issuer {0} has no key (set keys or jwks_file)")]
    Missing(String),
    #[error("key {kid} of issuer {issuer} has no public key (set public_key or public_key_file)")]
    MissingKey { issuer: String, kid: String },
    #[error("cannot read the key file {0}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("the key {kid} of issuer {issuer} is not an Ed25519 public key (32 bytes of hex)")]
    Malformed { issuer: String, kid: String },
    #[error("the secret seed of issuer {0} is not 32 bytes of hex")]
    MalformedSeed(String),
    #[error("the JWK set {0} cannot be parsed")]
    Jwks(PathBuf, #[source] serde_json::Error),
    #[error("an Ed25519 key in the JWK set {0} has no kid")]
    JwkWithoutKid(PathBuf),
    #[error("the key {kid} in the JWK set {path} is not a valid Ed25519 public key")]
    MalformedJwk { path: PathBuf, kid: String },
    #[error("issuer {issuer} lists the key id {kid} twice")]
    DuplicateKid { issuer: String, kid: String },
    #[error("the JWK set {0} holds no Ed25519 signing key")]
    NoUsableJwk(PathBuf),
    #[error("auth.audience is empty")]
    NoAudience,
    #[error("the operating system gave no randomness for a new key")]
    NoRandomness,
}

impl IssuerConfig {
    /// The issuer's keys by kid: the listed ones and those of the JWK set.
    pub fn verifying_keys(&self) -> Result<BTreeMap<String, VerifyingKey>, KeyError> {
        let mut keys = BTreeMap::new();
        let mut add = |kid: String, key: VerifyingKey| {
            if keys.insert(kid.clone(), key).is_some() {
                return Err(KeyError::DuplicateKid {
                    issuer: self.issuer.clone(),
                    kid,
                });
            }
            Ok(())
        };
        for key in &self.keys {
            add(key.kid.clone(), key.verifying_key(&self.issuer)?)?;
        }
        if let Some(path) = &self.jwks_file {
            for (kid, key) in jwks_keys(path)? {
                add(kid, key)?;
            }
        }
        if keys.is_empty() {
            return Err(KeyError::Missing(self.issuer.clone()));
        }
        Ok(keys)
    }
}

impl KeyConfig {
    fn verifying_key(&self, issuer: &str) -> Result<VerifyingKey, KeyError> {
        let text = match (&self.public_key, &self.public_key_file) {
            (Some(key), _) => key.clone(),
            (None, Some(file)) => read(file)?,
            (None, None) => {
                return Err(KeyError::MissingKey {
                    issuer: issuer.to_owned(),
                    kid: self.kid.clone(),
                });
            }
        };
        let malformed = || KeyError::Malformed {
            issuer: issuer.to_owned(),
            kid: self.kid.clone(),
        };
        let bytes = key_bytes(&text).ok_or_else(malformed)?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| malformed())
    }
}

fn read(file: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(file).map_err(|e| KeyError::Read(file.to_owned(), e))
}

/// The Ed25519 signature keys of a JWK set. Keys of other types, or for
/// encryption, are skipped: only EdDSA tokens are accepted.
pub fn jwks_keys(path: &Path) -> Result<Vec<(String, VerifyingKey)>, KeyError> {
    let set: JwkSet =
        serde_json::from_str(&read(path)?).map_err(|e| KeyError::Jwks(path.to_owned(), e))?;
    let mut keys = Vec::new();
    for jwk in set.keys {
        let AlgorithmParameters::OctetKeyPair(okp) = &jwk.algorithm else {
            continue;
        };
        let for_signing = !matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        );
        let eddsa = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::EdDSA));
        if okp.curve != EllipticCurve::Ed25519 || !for_signing || !eddsa {
            continue;
        }
        let kid = jwk
            .common
            .key_id
            .clone()
            .ok_or_else(|| KeyError::JwkWithoutKid(path.to_owned()))?;
        let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&okp.x)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
            .ok_or_else(|| KeyError::MalformedJwk {
                path: path.to_owned(),
                kid: kid.clone(),
            })?;
        keys.push((kid, key));
    }
    if keys.is_empty() {
        return Err(KeyError::NoUsableJwk(path.to_owned()));
    }
    Ok(keys)
}

/// 32 bytes from 64 hex characters (surrounding whitespace ignored), wiped
/// from memory when dropped.
pub(crate) fn key_bytes(hex_text: &str) -> Option<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(hex::decode(hex_text.trim()).ok()?);
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return None;
    }
    key.copy_from_slice(&bytes);
    Some(key)
}
