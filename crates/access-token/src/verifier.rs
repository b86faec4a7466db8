//! Verifies a token: the one place a JWT is checked. `jsonwebtoken` parses it
//! and checks the algorithm (EdDSA only), the signature with the key its `kid`
//! names among the keys of its issuer, the issuer and the audience; the time
//! rules (`exp`, `nbf`, `iat`, the maximum lifetime, each with the leeway) are
//! checked here against the time the caller gives, so tests use any clock.
//! Every refusal has a fixed reason that names no claim value.

use std::collections::BTreeMap;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::claims::Claims;
use crate::keys::{AuthConfig, KeyError};

/// Why a token is refused. The messages are fixed: they never repeat the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a JWT")]
    NotAJwt,
    #[error("token header is invalid")]
    InvalidHeader,
    #[error("token must be signed with EdDSA")]
    NotEdDsa,
    #[error("token names no key id")]
    MissingKeyId,
    #[error("token claims are invalid")]
    InvalidClaims,
    #[error("unknown token issuer")]
    UnknownIssuer,
    #[error("unknown token key")]
    UnknownKey,
    #[error("token signature is malformed")]
    MalformedSignature,
    #[error("token signature is invalid")]
    InvalidSignature,
    #[error("token is not for this service")]
    WrongAudience,
    #[error("token expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issued in the future")]
    IssuedInFuture,
    #[error("token lifetime is too long")]
    LifetimeTooLong,
}

impl TokenError {
    pub const ALL: [TokenError; 14] = [
        TokenError::NotAJwt,
        TokenError::InvalidHeader,
        TokenError::NotEdDsa,
        TokenError::MissingKeyId,
        TokenError::InvalidClaims,
        TokenError::UnknownIssuer,
        TokenError::UnknownKey,
        TokenError::MalformedSignature,
        TokenError::InvalidSignature,
        TokenError::WrongAudience,
        TokenError::Expired,
        TokenError::NotYetValid,
        TokenError::IssuedInFuture,
        TokenError::LifetimeTooLong,
    ];

    /// The reason, as a static string (for an UNAUTHENTICATED answer).
    pub fn reason(self) -> &'static str {
        match self {
            TokenError::NotAJwt => "token is not a JWT",
            TokenError::InvalidHeader => "token header is invalid",
            TokenError::NotEdDsa => "token must be signed with EdDSA",
            TokenError::MissingKeyId => "token names no key id",
            TokenError::InvalidClaims => "token claims are invalid",
            TokenError::UnknownIssuer => "unknown token issuer",
            TokenError::UnknownKey => "unknown token key",
            TokenError::MalformedSignature => "token signature is malformed",
            TokenError::InvalidSignature => "token signature is invalid",
            TokenError::WrongAudience => "token is not for this service",
            TokenError::Expired => "token expired",
            TokenError::NotYetValid => "token is not valid yet",
            TokenError::IssuedInFuture => "token issued in the future",
            TokenError::LifetimeTooLong => "token lifetime is too long",
        }
    }
}

/// Only the issuer, read before the signature is checked to choose the keys;
/// the verified claims are read again once it is.
#[derive(Deserialize)]
struct IssuerOnly {
    iss: String,
}

struct TrustedIssuer {
    issuer: String,
    keys: BTreeMap<String, DecodingKey>,
    validation: Validation,
}

/// Verifies tokens against the trusted issuers. Cheap to clone.
#[derive(Clone)]
pub struct TokenVerifier {
    issuers: Arc<Vec<TrustedIssuer>>,
    leeway: i64,
    max_lifetime: i64,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let issuers: BTreeMap<&str, Vec<&String>> = self
            .issuers
            .iter()
            .map(|i| (i.issuer.as_str(), i.keys.keys().collect()))
            .collect();
        f.debug_struct("TokenVerifier")
            .field("issuers", &issuers)
            .field("leeway", &self.leeway)
            .field("max_lifetime", &self.max_lifetime)
            .finish()
    }
}

impl TokenVerifier {
    /// The verifier for the configured issuers (keys read from files and JWK sets).
    pub fn from_config(config: &AuthConfig) -> Result<Self, KeyError> {
        if config.audience.trim().is_empty() {
            return Err(KeyError::NoAudience);
        }
        let issuers = config
            .issuers
            .iter()
            .map(|issuer| Ok((issuer.issuer.clone(), issuer.verifying_keys()?)))
            .collect::<Result<Vec<_>, KeyError>>()?;
        Ok(TokenVerifier::trusting(config, issuers))
    }

    /// The verifier for keys already read, with the time rules and audience of `config`.
    pub(crate) fn trusting(
        config: &AuthConfig,
        issuers: Vec<(String, BTreeMap<String, VerifyingKey>)>,
    ) -> Self {
        let issuers = issuers
            .into_iter()
            .map(|(issuer, keys)| {
                let mut validation = Validation::new(Algorithm::EdDSA);
                validation.set_issuer(&[&issuer]);
                validation.set_audience(&[&config.audience]);
                validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
                // Times are checked in `verify`, against the caller's clock.
                validation.validate_exp = false;
                validation.validate_nbf = false;
                TrustedIssuer {
                    keys: keys
                        .into_iter()
                        .map(|(kid, key)| (kid, DecodingKey::from_ed_der(key.as_bytes())))
                        .collect(),
                    issuer,
                    validation,
                }
            })
            .collect();
        TokenVerifier {
            issuers: Arc::new(issuers),
            leeway: i64::try_from(config.leeway_secs).unwrap_or(i64::MAX),
            max_lifetime: i64::try_from(config.max_lifetime_secs).unwrap_or(i64::MAX),
        }
    }

    /// The claims of `token` if a trusted issuer signed it for this audience and
    /// it is valid at `now_unix`.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidToken => TokenError::NotAJwt,
            _ => TokenError::InvalidHeader,
        })?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::NotEdDsa);
        }
        let kid = header.kid.ok_or(TokenError::MissingKeyId)?;
        let unverified: IssuerOnly = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| TokenError::InvalidClaims)?;
        let issuer = self
            .issuers
            .iter()
            .find(|issuer| issuer.issuer == unverified.iss)
            .ok_or(TokenError::UnknownIssuer)?;
        let key = issuer.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &issuer.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::InvalidSignature,
                ErrorKind::Base64(_) => TokenError::MalformedSignature,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidIssuer => TokenError::UnknownIssuer,
                ErrorKind::InvalidAlgorithm => TokenError::NotEdDsa,
                ErrorKind::InvalidToken => TokenError::NotAJwt,
                _ => TokenError::InvalidClaims,
            })?
            .claims;
        self.check_times(&claims, now_unix)?;
        let valid_id =
            |s: &str| !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control);
        if !valid_id(&claims.sub) || !valid_id(&claims.org) {
            return Err(TokenError::InvalidClaims);
        }
        Ok(claims)
    }

    fn check_times(&self, claims: &Claims, now: i64) -> Result<(), TokenError> {
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(TokenError::Expired);
        }
        if claims.iat > now.saturating_add(self.leeway) {
            return Err(TokenError::IssuedInFuture);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
        {
            return Err(TokenError::NotYetValid);
        }
        if claims.exp.saturating_sub(claims.iat) > self.max_lifetime {
            return Err(TokenError::LifetimeTooLong);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
