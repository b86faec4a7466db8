//! Signs tokens: the local setup's, the command-line client's and the tests'
//! identity provider. Production tokens come from the identity provider.

use std::path::Path;

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};

use crate::claims::{Claims, OrganisationType};
use crate::keys::{IssuerConfig, KeyError, key_bytes};
use crate::verifier::TokenVerifier;

/// An issuer and its Ed25519 signing key. The key is never formatted.
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

    /// A verifier that trusts this issuer only.
    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier::new(vec![(self.issuer.clone(), self.key.verifying_key())])
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
        let verifier = TokenVerifier::from_config(&[IssuerConfig {
            issuer: "local".to_owned(),
            public_key: None,
            public_key_file: Some(public),
        }])
        .expect("verifier");
        let token = reloaded.token("s", "o", OrganisationType::Police, &[], None, 2_000);
        assert!(verifier.verify(&token, 1_000).is_ok());
    }

    #[test]
    fn an_issuer_without_a_usable_key_is_refused() {
        let missing = IssuerConfig {
            issuer: "x".to_owned(),
            public_key: None,
            public_key_file: None,
        };
        assert!(matches!(
            TokenVerifier::from_config(&[missing]),
            Err(KeyError::Missing(_))
        ));
        let malformed = IssuerConfig {
            issuer: "x".to_owned(),
            public_key: Some("abcd".to_owned()),
            public_key_file: None,
        };
        assert!(matches!(
            TokenVerifier::from_config(&[malformed]),
            Err(KeyError::Malformed(_))
        ));
    }
}
