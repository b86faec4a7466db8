//! Signs tokens: the local setup's, the command-line client's and the tests'
//! identity provider. Production tokens come from the identity provider.

use std::path::Path;

use base64::Engine;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, OctetKeyPairParameters,
    OctetKeyPairType, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use zeroize::Zeroizing;

use crate::claims::{Claims, OrganisationType, Validity};
use crate::keys::{AuthConfig, DEFAULT_AUDIENCE, IssuerConfig, KeyConfig, KeyError, key_bytes};
use crate::verifier::TokenVerifier;

/// Why a token could not be signed. Fixed text: never the claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token cannot be signed")]
pub struct SignError;

/// An issuer, its audience and its Ed25519 signing key with its key id. The key
/// is never formatted, and is wiped from memory when the issuer is dropped
/// (`ed25519-dalek`'s and `jsonwebtoken`'s keys zeroize on drop).
#[derive(Clone)]
pub struct TokenIssuer {
    issuer: String,
    audience: String,
    kid: String,
    key: SigningKey,
    encoding: EncodingKey,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// A new issuer with a fresh random key from the operating system; fails
    /// rather than signing with a weak key.
    pub fn generate(issuer: &str) -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, seed.as_mut())
            .map_err(|_| KeyError::NoRandomness)?;
        TokenIssuer::from_seed(issuer, &seed)
    }

    /// The issuer whose 32-byte secret seed is stored, in hex, in `file`.
    pub fn from_seed_file(issuer: &str, file: &Path) -> Result<Self, KeyError> {
        let text = Zeroizing::new(
            std::fs::read_to_string(file).map_err(|e| KeyError::Read(file.to_owned(), e))?,
        );
        let seed = key_bytes(&text).ok_or_else(|| KeyError::MalformedSeed(issuer.to_owned()))?;
        TokenIssuer::from_seed(issuer, &seed)
    }

    fn from_seed(issuer: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        let key = SigningKey::from_bytes(seed);
        let der = key
            .to_pkcs8_der()
            .map_err(|_| KeyError::MalformedSeed(issuer.to_owned()))?;
        let mut token_issuer = TokenIssuer {
            issuer: issuer.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            kid: String::new(),
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            key,
        };
        token_issuer.kid = token_issuer
            .jwk()
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| KeyError::MalformedSeed(issuer.to_owned()))?;
        Ok(token_issuer)
    }

    /// The same key, signing tokens for `audience`.
    pub fn with_audience(mut self, audience: &str) -> Self {
        audience.clone_into(&mut self.audience);
        self
    }

    /// The same key under another key id (by default its RFC 7638 thumbprint).
    pub fn with_kid(mut self, kid: &str) -> Self {
        kid.clone_into(&mut self.kid);
        self
    }

    /// The secret seed, hex: write it only to a file only its owner can read.
    pub fn seed_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.key.to_bytes()))
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn jwk(&self) -> Jwk {
        Jwk {
            common: CommonParameters {
                public_key_use: Some(jsonwebtoken::jwk::PublicKeyUse::Signature),
                key_algorithm: Some(jsonwebtoken::jwk::KeyAlgorithm::EdDSA),
                key_id: (!self.kid.is_empty()).then(|| self.kid.clone()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(self.key.verifying_key().to_bytes()),
            }),
        }
    }

    /// The JWK set publishing this issuer's public key under its kid (for `jwks_file`).
    pub fn jwks_json(&self) -> String {
        serde_json::json!({ "keys": [self.jwk()] }).to_string()
    }

    /// The configuration entry that trusts this issuer's key.
    pub fn config(&self) -> IssuerConfig {
        IssuerConfig {
            issuer: self.issuer.clone(),
            keys: vec![KeyConfig {
                kid: self.kid.clone(),
                public_key: Some(self.public_key_hex()),
                public_key_file: None,
            }],
            jwks_file: None,
        }
    }

    /// The authentication configuration of a service that trusts this issuer
    /// only, for its audience, with the default time rules.
    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig {
            audience: self.audience.clone(),
            issuers: vec![self.config()],
            ..AuthConfig::default()
        }
    }

    /// A verifier that trusts this issuer only.
    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier::trusting(
            &self.auth_config(),
            vec![(
                self.issuer.clone(),
                [(self.kid.clone(), self.key.verifying_key())].into(),
            )],
        )
    }

    /// Signs `claims` with this issuer's key, its kid in the header.
    pub fn sign(&self, claims: &Claims) -> Result<String, SignError> {
        let header = Header {
            kid: Some(self.kid.clone()),
            ..Header::new(Algorithm::EdDSA)
        };
        self.sign_with(&header, claims)
    }

    /// Signs any header and claims with this key (tests forge tokens with it).
    pub(crate) fn sign_with(
        &self,
        header: &Header,
        claims: &impl serde::Serialize,
    ) -> Result<String, SignError> {
        jsonwebtoken::encode(header, claims, &self.encoding).map_err(|_| SignError)
    }

    /// A token for an organisation, for this issuer's audience, valid as `validity` says.
    pub fn token(
        &self,
        subject: &str,
        organisation_id: &str,
        organisation_type: OrganisationType,
        roles: &[&str],
        province: Option<&str>,
        validity: Validity,
    ) -> Result<String, SignError> {
        self.sign(&Claims {
            iss: self.issuer.clone(),
            sub: subject.to_owned(),
            aud: vec![self.audience.clone()],
            org: organisation_id.to_owned(),
            org_type: organisation_type,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            province: province.map(str::to_owned),
            iat: validity.issued_at,
            nbf: validity.not_before,
            exp: validity.expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(name: &str) -> TokenIssuer {
        TokenIssuer::generate(name).expect("issuer")
    }

    #[test]
    fn keys_round_trip_through_their_hex_files() {
        let issuer = issuer("local");
        let dir = tempfile::tempdir().expect("dir");
        let seed = dir.path().join("seed");
        std::fs::write(&seed, issuer.seed_hex().as_bytes()).expect("write");
        let reloaded = TokenIssuer::from_seed_file("local", &seed).expect("reload");
        assert_eq!(reloaded.public_key_hex(), issuer.public_key_hex());
        assert_eq!(
            reloaded.kid(),
            issuer.kid(),
            "the kid is the key's thumbprint"
        );
        let public = dir.path().join("public");
        std::fs::write(&public, issuer.public_key_hex()).expect("write");
        let verifier = TokenVerifier::from_config(&AuthConfig {
            issuers: vec![IssuerConfig {
                issuer: "local".to_owned(),
                keys: vec![KeyConfig {
                    kid: issuer.kid().to_owned(),
                    public_key: None,
                    public_key_file: Some(public),
                }],
                jwks_file: None,
            }],
            ..AuthConfig::default()
        })
        .expect("verifier");
        let token = reloaded
            .token(
                "s",
                "o",
                OrganisationType::Police,
                &[],
                None,
                Validity::starting(1_000, 60),
            )
            .expect("token");
        assert!(verifier.verify(&token, 1_000).is_ok());
    }

    #[test]
    fn an_issuer_without_a_usable_key_is_refused() {
        let config = |keys: Vec<KeyConfig>| AuthConfig {
            issuers: vec![IssuerConfig {
                issuer: "x".to_owned(),
                keys,
                jwks_file: None,
            }],
            ..AuthConfig::default()
        };
        let key = |public_key: Option<&str>| KeyConfig {
            kid: "k".to_owned(),
            public_key: public_key.map(str::to_owned),
            public_key_file: None,
        };
        assert!(matches!(
            TokenVerifier::from_config(&config(vec![])),
            Err(KeyError::Missing(_))
        ));
        assert!(matches!(
            TokenVerifier::from_config(&config(vec![key(None)])),
            Err(KeyError::MissingKey { .. })
        ));
        assert!(matches!(
            TokenVerifier::from_config(&config(vec![key(Some("abcd"))])),
            Err(KeyError::Malformed { .. })
        ));
        let valid = issuer("x").public_key_hex();
        assert!(matches!(
            TokenVerifier::from_config(&config(vec![key(Some(&valid)), key(Some(&valid))])),
            Err(KeyError::DuplicateKid { .. })
        ));
        let dir = tempfile::tempdir().expect("dir");
        let seed = dir.path().join("seed");
        std::fs::write(&seed, "not hex").expect("write");
        assert!(matches!(
            TokenIssuer::from_seed_file("x", &seed),
            Err(KeyError::MalformedSeed(_))
        ));
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let issuer = issuer("local");
        let seed = issuer.seed_hex();
        let public = issuer.public_key_hex();
        let shown = format!(
            "{issuer:?} {:?} {:?}",
            issuer.config(),
            issuer.auth_config()
        );
        assert!(shown.contains("local"), "the positive control: {shown}");
        assert!(!shown.contains(seed.as_str()), "{shown}");
        assert!(!shown.contains(&public), "{shown}");
    }
}
