//! The verifier's refusals, each shown next to a token that passes, so that a
//! check that stopped refusing would fail here.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::*;
use crate::keys::IssuerConfig;
use crate::{OrganisationType, TokenIssuer, Validity};

const NOW: i64 = 1_000_000;

fn issuer(name: &str) -> TokenIssuer {
    TokenIssuer::generate(name).expect("issuer")
}

fn token_valid(issuer: &TokenIssuer, validity: Validity) -> String {
    issuer
        .token("a", "org-a", OrganisationType::Analyst, &[], None, validity)
        .expect("token")
}

/// A token issued a minute ago, valid for an hour.
fn fresh(issuer: &TokenIssuer) -> String {
    token_valid(issuer, Validity::starting(NOW - 60, 3_600))
}

fn claims_json(issuer: &TokenIssuer) -> serde_json::Value {
    serde_json::json!({
        "iss": issuer.issuer(), "sub": "a", "aud": issuer.audience(), "org": "org-a",
        "org_type": "analyst", "iat": NOW - 60, "exp": NOW + 3_600,
    })
}

fn header(kid: Option<&str>) -> Header {
    Header {
        kid: kid.map(str::to_owned),
        ..Header::new(Algorithm::EdDSA)
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn reads_the_claims_of_a_signed_token() {
    let issuer = issuer("test");
    let token = issuer
        .token(
            "op-1",
            "cas-7",
            OrganisationType::ReceptionOperator,
            &["operator"],
            Some("RM"),
            Validity::starting(NOW, 3_600),
        )
        .expect("token");
    let claims = issuer.verifier().verify(&token, NOW).expect("claims");
    assert_eq!(claims.iss, "test");
    assert_eq!(claims.sub, "op-1");
    assert_eq!(claims.aud, ["approdo"]);
    assert_eq!(claims.org, "cas-7");
    assert_eq!(claims.org_type, OrganisationType::ReceptionOperator);
    assert_eq!(claims.roles, ["operator"]);
    assert_eq!(claims.province.as_deref(), Some("RM"));
    assert_eq!((claims.iat, claims.exp), (NOW, NOW + 3_600));
}

#[test]
fn refuses_wrong_key_tampered_unsigned_other_algorithm_and_unknown_issuer_tokens() {
    let issuer = issuer("test");
    let verifier = issuer.verifier();
    let refused = |token: &str| verifier.verify(token, NOW).expect_err("refused");
    let valid = fresh(&issuer);
    assert!(verifier.verify(&valid, NOW).is_ok());

    // Another key claiming the trusted key's id.
    let impostor = TokenIssuer::generate("test")
        .expect("issuer")
        .with_kid(issuer.kid());
    assert_eq!(refused(&fresh(&impostor)), TokenError::InvalidSignature);

    // Claims changed after signing: an analyst promoting itself to administrator.
    let parts: Vec<&str> = valid.split('.').collect();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = String::from_utf8(engine.decode(parts[1]).expect("b64")).expect("utf8");
    let forged = b64(claims.replace("analyst", "administrator").as_bytes());
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    assert_eq!(refused(&tampered), TokenError::InvalidSignature);
    let mangled_signature = format!("{}.{}.%%%", parts[0], parts[1]);
    assert_eq!(refused(&mangled_signature), TokenError::MalformedSignature);

    // Unsigned: `alg: none` is no algorithm jsonwebtoken knows, so no header it accepts.
    let none_header =
        b64(format!(r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#, issuer.kid()).as_bytes());
    assert_eq!(
        refused(&format!("{none_header}.{}.", parts[1])),
        TokenError::InvalidHeader
    );

    // Algorithm confusion: HMAC with the public key as the secret.
    let hmac = jsonwebtoken::encode(
        &Header {
            kid: Some(issuer.kid().to_owned()),
            ..Header::new(Algorithm::HS256)
        },
        &claims_json(&issuer),
        &EncodingKey::from_secret(issuer.public_key_hex().as_bytes()),
    )
    .expect("hs256");
    assert_eq!(refused(&hmac), TokenError::NotEdDsa);

    let stranger = issuer_named_like_nobody();
    assert_eq!(refused(&fresh(&stranger)), TokenError::UnknownIssuer);

    let empty_org = issuer
        .token(
            "a",
            "",
            OrganisationType::Analyst,
            &[],
            None,
            Validity::starting(NOW, 60),
        )
        .expect("token");
    assert_eq!(refused(&empty_org), TokenError::InvalidClaims);

    let mut no_iat = claims_json(&issuer);
    no_iat.as_object_mut().expect("object").remove("iat");
    let no_iat = issuer
        .sign_with(&header(Some(issuer.kid())), &no_iat)
        .expect("signed");
    assert_eq!(refused(&no_iat), TokenError::InvalidClaims);

    assert_eq!(refused("not-a-jwt"), TokenError::NotAJwt);
    assert_eq!(refused("a.%%%.c"), TokenError::InvalidHeader);
}

fn issuer_named_like_nobody() -> TokenIssuer {
    issuer("somebody-else")
}

#[test]
fn the_audience_is_required_and_must_be_this_services() {
    let issuer = issuer("test");
    let verifier = issuer.verifier();
    let other_service = issuer.clone().with_audience("another-system");
    assert_eq!(
        verifier.verify(&fresh(&other_service), NOW),
        Err(TokenError::WrongAudience)
    );
    let mut no_aud = claims_json(&issuer);
    no_aud.as_object_mut().expect("object").remove("aud");
    let no_aud = issuer
        .sign_with(&header(Some(issuer.kid())), &no_aud)
        .expect("signed");
    assert_eq!(
        verifier.verify(&no_aud, NOW),
        Err(TokenError::InvalidClaims)
    );
    // Several audiences, one of them ours: accepted.
    let mut several = claims_json(&issuer);
    several["aud"] = serde_json::json!(["another-system", "approdo"]);
    let several = issuer
        .sign_with(&header(Some(issuer.kid())), &several)
        .expect("signed");
    assert!(verifier.verify(&several, NOW).is_ok());
    // A service configured for another audience refuses what passes here.
    let elsewhere = TokenVerifier::from_config(&AuthConfig {
        audience: "another-system".to_owned(),
        ..issuer.auth_config()
    })
    .expect("verifier");
    assert_eq!(
        elsewhere.verify(&fresh(&issuer), NOW),
        Err(TokenError::WrongAudience)
    );
    assert!(elsewhere.verify(&fresh(&other_service), NOW).is_ok());
}

#[test]
fn expiry_not_before_and_issued_at_hold_with_the_leeway() {
    let issuer = issuer("test");
    let verifier = issuer.verifier(); // 30 s of leeway
    let at = |validity| verifier.verify(&token_valid(&issuer, validity), NOW);

    // Expired 29 s ago: within the leeway; 30 s ago: refused.
    assert!(at(Validity::starting(NOW - 3_629, 3_600)).is_ok());
    assert_eq!(
        at(Validity::starting(NOW - 3_630, 3_600)),
        Err(TokenError::Expired)
    );

    // Issued in 30 s: clock skew; in 31 s: refused.
    assert!(at(Validity::starting(NOW + 30, 3_600)).is_ok());
    assert_eq!(
        at(Validity::starting(NOW + 31, 3_600)),
        Err(TokenError::IssuedInFuture)
    );

    let not_before = |nbf| Validity {
        not_before: Some(nbf),
        ..Validity::starting(NOW - 60, 3_600)
    };
    assert!(at(not_before(NOW + 30)).is_ok());
    assert_eq!(at(not_before(NOW + 31)), Err(TokenError::NotYetValid));

    let strict = TokenVerifier::from_config(&AuthConfig {
        leeway_secs: 0,
        ..issuer.auth_config()
    })
    .expect("verifier");
    assert_eq!(
        strict.verify(
            &token_valid(&issuer, Validity::starting(NOW - 3_600, 3_600)),
            NOW
        ),
        Err(TokenError::Expired)
    );
}

#[test]
fn tokens_valid_longer_than_the_maximum_lifetime_are_refused() {
    let issuer = issuer("test");
    let verifier = issuer.verifier(); // 12 h by default
    let lived = |secs| verifier.verify(&token_valid(&issuer, Validity::starting(NOW, secs)), NOW);
    assert!(lived(12 * 3_600).is_ok());
    assert_eq!(lived(12 * 3_600 + 1), Err(TokenError::LifetimeTooLong));
    assert_eq!(lived(i64::MAX), Err(TokenError::LifetimeTooLong));
    let shorter = TokenVerifier::from_config(&AuthConfig {
        max_lifetime_secs: 600,
        ..issuer.auth_config()
    })
    .expect("verifier");
    assert_eq!(
        shorter.verify(&token_valid(&issuer, Validity::starting(NOW, 601)), NOW),
        Err(TokenError::LifetimeTooLong)
    );
}

#[test]
fn keys_are_chosen_by_kid_so_an_issuer_can_rotate_them() {
    let old = issuer("idp").with_kid("2026-11");
    let new = TokenIssuer::generate("idp")
        .expect("issuer")
        .with_kid("2026-12");
    let config = |keys: &[&TokenIssuer]| AuthConfig {
        issuers: vec![IssuerConfig {
            issuer: "idp".to_owned(),
            keys: keys.iter().flat_map(|k| k.config().keys).collect(),
            jwks_file: None,
        }],
        ..AuthConfig::default()
    };
    let during = TokenVerifier::from_config(&config(&[&old, &new])).expect("verifier");
    assert!(during.verify(&fresh(&old), NOW).is_ok());
    assert!(during.verify(&fresh(&new), NOW).is_ok());

    let after = TokenVerifier::from_config(&config(&[&new])).expect("verifier");
    assert!(after.verify(&fresh(&new), NOW).is_ok());
    assert_eq!(after.verify(&fresh(&old), NOW), Err(TokenError::UnknownKey));

    // The new key under the old key's id does not verify.
    let mislabelled = new.clone().with_kid("2026-11");
    assert_eq!(
        during.verify(&fresh(&mislabelled), NOW),
        Err(TokenError::InvalidSignature)
    );

    let no_kid = new
        .sign_with(&header(None), &claims_json(&new))
        .expect("signed");
    assert_eq!(during.verify(&no_kid, NOW), Err(TokenError::MissingKeyId));
}

#[test]
fn keys_are_read_from_a_jwk_set() {
    let dir = tempfile::tempdir().expect("dir");
    let first = issuer("idp").with_kid("a");
    let second = TokenIssuer::generate("idp").expect("issuer").with_kid("b");
    let not_trusted = TokenIssuer::generate("idp").expect("issuer").with_kid("c");
    let jwk = |issuer: &TokenIssuer| {
        serde_json::from_str::<serde_json::Value>(&issuer.jwks_json()).expect("json")["keys"][0]
            .clone()
    };
    // An RSA key and an encryption key beside them are skipped.
    let mut for_encryption = jwk(&not_trusted);
    for_encryption["use"] = serde_json::json!("enc");
    let set = serde_json::json!({ "keys": [
        jwk(&first),
        { "kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB", "alg": "RS256" },
        for_encryption,
        jwk(&second),
    ]});
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, set.to_string()).expect("write");
    let config = |path: &std::path::Path| AuthConfig {
        issuers: vec![IssuerConfig {
            issuer: "idp".to_owned(),
            keys: vec![],
            jwks_file: Some(path.to_owned()),
        }],
        ..AuthConfig::default()
    };
    let verifier = TokenVerifier::from_config(&config(&path)).expect("verifier");
    assert!(verifier.verify(&fresh(&first), NOW).is_ok());
    assert!(verifier.verify(&fresh(&second), NOW).is_ok());
    assert_eq!(
        verifier.verify(&fresh(&not_trusted), NOW),
        Err(TokenError::UnknownKey)
    );

    let write = |name: &str, value: serde_json::Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, value.to_string()).expect("write");
        TokenVerifier::from_config(&config(&path)).map(|_| ())
    };
    let mut without_kid = jwk(&first);
    without_kid.as_object_mut().expect("object").remove("kid");
    assert!(matches!(
        write("no-kid.json", serde_json::json!({ "keys": [without_kid] })),
        Err(KeyError::JwkWithoutKid(_))
    ));
    let mut short = jwk(&first);
    short["x"] = serde_json::json!("AAAA");
    assert!(matches!(
        write("short.json", serde_json::json!({ "keys": [short] })),
        Err(KeyError::MalformedJwk { .. })
    ));
    assert!(matches!(
        write("none.json", serde_json::json!({ "keys": [] })),
        Err(KeyError::NoUsableJwk(_))
    ));
    assert!(matches!(
        write("not-a-set.json", serde_json::json!([1, 2])),
        Err(KeyError::Jwks(..))
    ));
}

#[test]
fn every_refusal_has_its_display_as_its_reason() {
    for error in TokenError::ALL {
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
        let verifier = TokenIssuer::generate("fuzz").expect("issuer").verifier();
        proptest::prop_assert!(verifier.verify(&text, NOW).is_err());
        proptest::prop_assert!(verifier.verify(&parts.join("."), NOW).is_err());
    }
}
