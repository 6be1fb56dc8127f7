//! Token tests: every way a token can be wrong is rejected.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::io::Write;

fn data(name: &str) -> String {
    format!("{}/src/token/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn secret_file(secret: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(secret).unwrap();
    file
}

fn hs_tokens(secret: &[u8]) -> Tokens {
    Tokens::new(
        Keyring::from_secret(secret).unwrap(),
        TokenConfig::default(),
    )
}

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test";

#[test]
fn access_tokens_round_trip_with_all_claims() {
    let tokens = hs_tokens(SECRET);
    let issued = tokens
        .issue_access(
            "u1",
            "alice",
            "s1",
            vec!["admin".into()],
            Pending::default(),
            Assurance::password(1),
        )
        .unwrap();
    let claims = tokens.verify_access(&issued.token).unwrap();
    assert_eq!(claims, issued.claims);
    assert_eq!(claims.sub, "u1");
    assert_eq!(claims.sid, "s1");
    assert_eq!(claims.roles, vec!["admin"]);
    assert_eq!(claims.exp - claims.iat, 15 * 60);
    let header = jsonwebtoken::decode_header(&issued.token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(tokens.keyring().signing_kid()));
}

#[test]
fn refresh_and_access_tokens_are_not_interchangeable() {
    let tokens = hs_tokens(SECRET);
    let refresh = tokens
        .issue_refresh("u1", "s1", 3, Assurance::password(1))
        .unwrap();
    assert_eq!(tokens.verify_refresh(&refresh.token).unwrap().generation, 3);
    assert!(matches!(
        tokens.verify_access(&refresh.token),
        Err(TokenError::Invalid(_))
    ));
    let access = tokens
        .issue_access(
            "u1",
            "alice",
            "s1",
            vec![],
            Pending::default(),
            Assurance::password(1),
        )
        .unwrap();
    assert!(matches!(
        tokens.verify_refresh(&access.token),
        Err(TokenError::Invalid(_))
    ));
}

/// A service verifying access tokens with the JWKS checks the signature,
/// issuer and audience, and knows nothing of `token_use`: it must still
/// refuse a refresh token.
#[test]
fn a_generic_access_token_verifier_refuses_refresh_tokens() {
    let tokens = hs_tokens(SECRET);
    let refresh = tokens
        .issue_refresh("u1", "s1", 1, Assurance::password(1))
        .unwrap();
    let header = jsonwebtoken::decode_header(&refresh.token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("refresh+jwt"));
    assert_eq!(refresh.claims.aud, "gatehouse:refresh");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&["gatehouse"]);
    validation.set_audience(&["gatehouse"]);
    let key = jsonwebtoken::DecodingKey::from_secret(SECRET);
    let verdict = jsonwebtoken::decode::<serde_json::Value>(&refresh.token, &key, &validation);
    assert_eq!(
        verdict.map(|_| ()).unwrap_err().kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidAudience,
        "an access-token verifier accepted a refresh token"
    );
    let access = tokens
        .issue_access(
            "u1",
            "alice",
            "s1",
            vec![],
            Pending::default(),
            Assurance::password(1),
        )
        .unwrap();
    assert!(jsonwebtoken::decode::<serde_json::Value>(&access.token, &key, &validation).is_ok());

    // Refresh tokens from before the change still refresh until they expire.
    let mut legacy = refresh.claims.clone();
    legacy.aud = "gatehouse".to_owned();
    let legacy = tokens.sign(&legacy).unwrap();
    assert_eq!(tokens.verify_refresh(&legacy).unwrap().sid, "s1");
    assert!(matches!(
        tokens.verify_access(&legacy),
        Err(TokenError::Invalid(_))
    ));
}

#[test]
fn tampered_tokens_are_rejected() {
    let tokens = hs_tokens(SECRET);
    let token = tokens
        .issue_access(
            "u1",
            "alice",
            "s1",
            vec!["user".into()],
            Pending::default(),
            Assurance::password(1),
        )
        .unwrap()
        .token;
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["roles"] = serde_json::json!(["admin"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap()),
        parts[2]
    );
    assert_eq!(
        tokens.verify_access(&forged),
        Err(TokenError::Invalid("bad signature"))
    );
    for garbage in [
        "",
        "abc",
        "a.b.c",
        &"x".repeat(10_000),
        &format!("{token}x"),
    ] {
        assert!(
            matches!(tokens.verify_access(garbage), Err(TokenError::Invalid(_))),
            "{garbage:.40}"
        );
    }
}

#[test]
fn alg_none_is_rejected() {
    let tokens = hs_tokens(SECRET);
    let claims = tokens
        .issue_access(
            "u1",
            "alice",
            "s1",
            vec![],
            Pending::default(),
            Assurance::password(1),
        )
        .unwrap()
        .claims;
    let header =
        serde_json::json!({"alg": "none", "typ": "JWT", "kid": tokens.keyring().signing_kid()});
    let token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );
    assert!(matches!(
        tokens.verify_access(&token),
        Err(TokenError::Invalid(_))
    ));
}

#[test]
fn a_token_signed_with_another_key_is_rejected() {
    let ours = hs_tokens(SECRET);
    let theirs = hs_tokens(b"another-secret-another-secret-another-secret");
    let token = theirs
        .issue_access(
            "u1",
            "alice",
            "s1",
            vec![],
            Pending::default(),
            Assurance::password(1),
        )
        .unwrap()
        .token;
    assert_eq!(
        ours.verify_access(&token),
        Err(TokenError::Invalid("unknown kid"))
    );

    // Even when the attacker copies our kid into the header.
    let claims = theirs.verify_access(&token).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(ours.keyring().signing_kid().to_owned());
    let forged = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-another-secret-another-secret"),
    )
    .unwrap();
    assert_eq!(
        ours.verify_access(&forged),
        Err(TokenError::Invalid("bad signature"))
    );
}

#[test]
fn algorithm_confusion_with_the_public_key_as_hmac_secret_is_rejected() {
    let tokens = Tokens::new(
        Keyring::from_files(&[data("rsa2048.pem")]).unwrap(),
        TokenConfig::default(),
    );
    let claims = tokens
        .issue_access(
            "u1",
            "alice",
            "s1",
            vec![],
            Pending::default(),
            Assurance::password(1),
        )
        .unwrap()
        .claims;
    let public_pem = std::fs::read(data("rsa2048.pub.pem")).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(tokens.keyring().signing_kid().to_owned());
    let forged = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&public_pem),
    )
    .unwrap();
    assert_eq!(
        tokens.verify_access(&forged),
        Err(TokenError::Invalid("algorithm does not match the key"))
    );
}

#[test]
fn expired_and_not_yet_valid_tokens_are_rejected_outside_the_leeway() {
    let tokens = hs_tokens(SECRET);
    let now = now_secs();
    let mut claims = tokens
        .issue_access(
            "u1",
            "alice",
            "s1",
            vec![],
            Pending::default(),
            Assurance::password(1),
        )
        .unwrap()
        .claims;

    claims.exp = now - 60;
    assert_eq!(
        tokens.verify_access(&tokens.sign(&claims).unwrap()),
        Err(TokenError::Expired)
    );

    // Within the 5 s leeway: still fine.
    claims.exp = now - 2;
    assert!(tokens.verify_access(&tokens.sign(&claims).unwrap()).is_ok());

    claims.exp = now + 600;
    claims.nbf = now + 60;
    assert_eq!(
        tokens.verify_access(&tokens.sign(&claims).unwrap()),
        Err(TokenError::Invalid("not yet valid"))
    );
}

#[test]
fn wrong_issuer_or_audience_is_rejected() {
    let tokens = hs_tokens(SECRET);
    let mut claims = tokens
        .issue_access(
            "u1",
            "alice",
            "s1",
            vec![],
            Pending::default(),
            Assurance::password(1),
        )
        .unwrap()
        .claims;
    claims.iss = "someone-else".into();
    assert_eq!(
        tokens.verify_access(&tokens.sign(&claims).unwrap()),
        Err(TokenError::Invalid("wrong issuer"))
    );
    claims.iss = "gatehouse".into();
    claims.aud = "another-app".into();
    assert_eq!(
        tokens.verify_access(&tokens.sign(&claims).unwrap()),
        Err(TokenError::Invalid("wrong audience"))
    );
}

#[test]
fn rotation_signs_with_the_newest_key_and_verifies_all() {
    let old = secret_file(b"the-old-secret-the-old-secret-the-old-secret");
    let new = secret_file(b"the-new-secret-the-new-secret-the-new-secret\n");
    let before = Tokens::new(
        Keyring::from_files(&[old.path()]).unwrap(),
        TokenConfig::default(),
    );
    let after = Tokens::new(
        Keyring::from_files(&[old.path(), new.path()]).unwrap(),
        TokenConfig::default(),
    );
    assert_ne!(
        before.keyring().signing_kid(),
        after.keyring().signing_kid()
    );

    let old_token = before
        .issue_access(
            "u1",
            "alice",
            "s1",
            vec![],
            Pending::default(),
            Assurance::password(1),
        )
        .unwrap()
        .token;
    assert!(
        after.verify_access(&old_token).is_ok(),
        "tokens from before the rotation stay valid"
    );
    let new_token = after
        .issue_access(
            "u1",
            "alice",
            "s1",
            vec![],
            Pending::default(),
            Assurance::password(1),
        )
        .unwrap()
        .token;
    assert!(matches!(
        before.verify_access(&new_token),
        Err(TokenError::Invalid(_))
    ));
}

#[test]
fn eddsa_and_rs256_keys_sign_verify_and_publish_jwks() {
    for (file, alg, kty) in [
        ("ed25519.pem", "EdDSA", "OKP"),
        ("rsa2048.pem", "RS256", "RSA"),
    ] {
        let tokens = Tokens::new(
            Keyring::from_files(&[data(file)]).unwrap(),
            TokenConfig::default(),
        );
        let issued = tokens
            .issue_access(
                "u1",
                "alice",
                "s1",
                vec![],
                Pending::default(),
                Assurance::password(1),
            )
            .unwrap();
        assert!(tokens.verify_access(&issued.token).is_ok(), "{file}");
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg);
        let jwks = tokens.keyring().jwks();
        assert_eq!(jwks["keys"][0]["kty"], kty);
        assert_eq!(jwks["keys"][0]["kid"], tokens.keyring().signing_kid());

        // A verifier holding only the published JWK accepts the token.
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&["gatehouse"]);
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        jsonwebtoken::decode::<AccessClaims>(&issued.token, &key, &validation).unwrap();
    }
}

#[test]
fn public_key_files_verify_only_and_secrets_are_never_published() {
    let signer = Keyring::from_files(&[data("ed25519.pem")]).unwrap();
    let verifier_only = Keyring::from_files(&[data("ed25519.pub.pem")]);
    assert!(matches!(verifier_only, Err(KeyError::NoSigningKey)));

    let secret = secret_file(SECRET);
    let mixed =
        Keyring::from_files(&[data("ed25519.pub.pem").into(), secret.path().to_owned()]).unwrap();
    assert_eq!(mixed.jwks()["keys"].as_array().unwrap().len(), 1);
    assert_eq!(mixed.jwks()["keys"][0]["kid"], signer.signing_kid());
    assert_eq!(
        hs_tokens(SECRET).keyring().jwks()["keys"],
        serde_json::json!([])
    );
}

#[test]
fn weak_keys_are_refused_with_a_clear_reason() {
    let short = secret_file(b"too-short");
    let err = Keyring::from_files(&[short.path()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least 32 bytes"), "{err}");
    let err = Keyring::from_files(&[data("rsa1024.pem")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("2048"), "{err}");
    let err = Keyring::from_files(&["/nonexistent/key"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot read"), "{err}");
}

#[tokio::test]
async fn the_shared_default_secret_is_created_once_and_then_reused() {
    let redis = crate::testing::TestRedis::start().await;
    let store = redis.store().await;
    let (a, b) = tokio::join!(shared_default_secret(&store), shared_default_secret(&store));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert!(a.len() >= MIN_SECRET_BYTES);
    assert_eq!(shared_default_secret(&store).await.unwrap(), a);
}
