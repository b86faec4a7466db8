//! The issuers whose tokens are accepted, as configured, and their keys read
//! from hex (inline or in a file).

use std::path::PathBuf;

use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

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

impl IssuerConfig {
    /// The issuer's public key, read from the file if needed.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        let text = match (&self.public_key, &self.public_key_file) {
            (Some(key), _) => key.clone(),
            (None, Some(file)) => {
                std::fs::read_to_string(file).map_err(|e| KeyError::Read(file.clone(), e))?
            }
            (None, None) => return Err(KeyError::Missing(self.issuer.clone())),
        };
        VerifyingKey::from_bytes(&key_bytes(&text, &self.issuer)?)
            .map_err(|_| KeyError::Malformed(self.issuer.clone()))
    }
}

/// 32 bytes from 64 hex characters (surrounding whitespace ignored).
pub(crate) fn key_bytes(hex_text: &str, who: &str) -> Result<[u8; 32], KeyError> {
    hex::decode(hex_text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| KeyError::Malformed(who.to_owned()))
}
