//! Verifies a token: the one place a JWT is parsed and checked for algorithm,
//! issuer, signature, expiry and well-formed ids. Missing, malformed, expired,
//! badly signed, tampered, unsigned (`alg: none`) and unknown-issuer tokens are
//! refused with a reason that names no claim value.

use std::sync::Arc;

use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::Deserialize;

use crate::claims::Claims;
use crate::keys::{IssuerConfig, KeyError};

/// Why a token is refused. The messages are fixed: they never repeat the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a JWT")]
    NotAJwt,
    #[error("token header is invalid")]
    InvalidHeader,
    #[error("token must be signed with EdDSA")]
    NotEdDsa,
    #[error("token claims are invalid")]
    InvalidClaims,
    #[error("unknown token issuer")]
    UnknownIssuer,
    #[error("token signature is malformed")]
    MalformedSignature,
    #[error("token signature is invalid")]
    InvalidSignature,
    #[error("token expired")]
    Expired,
}

impl TokenError {
    /// The reason, as a static string (for an UNAUTHENTICATED answer).
    pub fn reason(self) -> &'static str {
        match self {
            TokenError::NotAJwt => "token is not a JWT",
            TokenError::InvalidHeader => "token header is invalid",
            TokenError::NotEdDsa => "token must be signed with EdDSA",
            TokenError::InvalidClaims => "token claims are invalid",
            TokenError::UnknownIssuer => "unknown token issuer",
            TokenError::MalformedSignature => "token signature is malformed",
            TokenError::InvalidSignature => "token signature is invalid",
            TokenError::Expired => "token expired",
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

/// Verifies tokens against the trusted issuers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    issuers: Arc<Vec<(String, VerifyingKey)>>,
}

impl TokenVerifier {
    pub fn new(issuers: Vec<(String, VerifyingKey)>) -> Self {
        TokenVerifier {
            issuers: Arc::new(issuers),
        }
    }

    /// The verifier for the configured issuers (keys read from files if needed).
    pub fn from_config(issuers: &[IssuerConfig]) -> Result<Self, KeyError> {
        let keys = issuers
            .iter()
            .map(|issuer| Ok((issuer.issuer.clone(), issuer.verifying_key()?)))
            .collect::<Result<Vec<_>, KeyError>>()?;
        Ok(TokenVerifier::new(keys))
    }

    /// The claims of `token` if a trusted issuer signed it and it is valid at `now_unix`.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::NotAJwt);
        };
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: Header = engine
            .decode(header_b64)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(TokenError::InvalidHeader)?;
        if header.alg != "EdDSA" {
            return Err(TokenError::NotEdDsa);
        }
        let claims: Claims = engine
            .decode(payload_b64)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(TokenError::InvalidClaims)?;
        let key = self
            .issuers
            .iter()
            .find(|(issuer, _)| *issuer == claims.iss)
            .map(|(_, key)| key)
            .ok_or(TokenError::UnknownIssuer)?;
        let signature = engine
            .decode(signature_b64)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(TokenError::MalformedSignature)?;
        let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
        key.verify(signed.as_bytes(), &signature)
            .map_err(|_| TokenError::InvalidSignature)?;
        if claims.exp <= now_unix {
            return Err(TokenError::Expired);
        }
        let valid_id =
            |s: &str| !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control);
        if !valid_id(&claims.sub) || !valid_id(&claims.org) {
            return Err(TokenError::InvalidClaims);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OrganisationType, TokenIssuer};

    #[test]
    fn reads_the_claims_of_a_signed_token() {
        let issuer = TokenIssuer::generate("test");
        let token = issuer.token(
            "op-1",
            "cas-7",
            OrganisationType::ReceptionOperator,
            &["operator"],
            Some("RM"),
            2_000,
        );
        let claims = issuer.verifier().verify(&token, 1_000).expect("claims");
        assert_eq!(claims.iss, "test");
        assert_eq!(claims.sub, "op-1");
        assert_eq!(claims.org, "cas-7");
        assert_eq!(claims.org_type, OrganisationType::ReceptionOperator);
        assert_eq!(claims.roles, ["operator"]);
        assert_eq!(claims.province.as_deref(), Some("RM"));
    }

    #[test]
    fn refuses_expired_wrong_key_tampered_unsigned_and_unknown_issuer_tokens() {
        let issuer = TokenIssuer::generate("test");
        let verifier = issuer.verifier();
        let refused = |token: &str| verifier.verify(token, 1_000).expect_err("refused");
        let valid = issuer.token("a", "org-a", OrganisationType::Analyst, &[], None, 2_000);

        let expired = issuer.token("a", "org-a", OrganisationType::Analyst, &[], None, 999);
        assert_eq!(refused(&expired), TokenError::Expired);

        let impostor = TokenIssuer::generate("test");
        let wrong_key = impostor.token(
            "a",
            "org-a",
            OrganisationType::Administrator,
            &[],
            None,
            2_000,
        );
        assert_eq!(refused(&wrong_key), TokenError::InvalidSignature);

        // Claims changed after signing: an analyst promoting itself to administrator.
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = valid.split('.').collect();
        let claims = String::from_utf8(engine.decode(parts[1]).expect("b64")).expect("utf8");
        let forged = engine.encode(claims.replace("analyst", "administrator"));
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_eq!(refused(&tampered), TokenError::InvalidSignature);

        let none_header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(refused(&unsigned), TokenError::NotEdDsa);

        let stranger = TokenIssuer::generate("somebody-else");
        let unknown = stranger.token("a", "org-a", OrganisationType::Analyst, &[], None, 2_000);
        assert_eq!(refused(&unknown), TokenError::UnknownIssuer);

        let empty_org = issuer.token("a", "", OrganisationType::Analyst, &[], None, 2_000);
        assert_eq!(refused(&empty_org), TokenError::InvalidClaims);

        assert_eq!(refused("not-a-jwt"), TokenError::NotAJwt);
        assert_eq!(refused("a.%%%.c"), TokenError::InvalidHeader);
        assert!(verifier.verify(&valid, 1_000).is_ok());
    }

    #[test]
    fn every_refusal_has_its_display_as_its_reason() {
        for error in [
            TokenError::NotAJwt,
            TokenError::InvalidHeader,
            TokenError::NotEdDsa,
            TokenError::InvalidClaims,
            TokenError::UnknownIssuer,
            TokenError::MalformedSignature,
            TokenError::InvalidSignature,
            TokenError::Expired,
        ] {
            assert_eq!(error.to_string(), error.reason());
        }
    }

    proptest::proptest! {
        /// Arbitrary strings are refused cleanly, never accepted, never a panic.
        #[test]
        fn arbitrary_tokens_are_refused_without_panicking(
            text in "[ -~]{0,300}",
            parts in proptest::collection::vec("[A-Za-z0-9_-]{0,80}", 0..5),
        ) {
            let verifier = TokenIssuer::generate("fuzz").verifier();
            proptest::prop_assert!(verifier.verify(&text, 1_000).is_err());
            proptest::prop_assert!(verifier.verify(&parts.join("."), 1_000).is_err());
        }
    }
}
