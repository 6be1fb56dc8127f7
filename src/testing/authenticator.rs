//! A WebAuthn authenticator in software, for tests without a browser: it
//! answers the options Gatehouse sends as a browser would answer them
//! (`PublicKeyCredential.toJSON()`), with a real P-256 key, so the tests
//! exercise `webauthn-rs`'s verification, not a shortcut around it. The
//! browser tests use Chromium's virtual authenticator instead.
//!
//! Attestation is `none` (Gatehouse asks for none); CBOR is written by
//! hand, the few shapes WebAuthn needs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A software authenticator holding one credential (once created).
pub struct SoftAuthenticator {
    key: SigningKey,
    credential_id: [u8; 16],
    user_handle: Option<Vec<u8>>,
    counter: u32,
    /// Keeps its credentials (a passkey) and answers without a list.
    pub resident: bool,
    /// Verifies its user (PIN, biometrics) when asked to.
    pub verifies_user: bool,
    /// Its credentials may sync to other devices.
    pub backup_eligible: bool,
    /// The origin the "browser" reports.
    pub origin: String,
}

impl SoftAuthenticator {
    /// A platform authenticator with passkeys and user verification (at
    /// the fixtures' origin).
    pub fn passkey() -> Self {
        Self::new(true, true)
    }

    /// A security key without resident keys or user verification.
    pub fn security_key() -> Self {
        Self::new(false, false)
    }

    pub fn new(resident: bool, verifies_user: bool) -> Self {
        let key = loop {
            let bytes = crate::random::bytes::<32>();
            if let Ok(key) = SigningKey::from_bytes(&bytes.into()) {
                break key;
            }
        };
        Self {
            key,
            credential_id: crate::random::bytes::<16>(),
            user_handle: None,
            counter: 0,
            resident,
            verifies_user,
            backup_eligible: false,
            origin: "http://localhost:3000".to_owned(),
        }
    }

    /// Answers `navigator.credentials.create` with `options` (the
    /// ceremony's, or a test's JSON).
    pub fn create(&mut self, options: &impl Serialize) -> Value {
        let options = serde_json::to_value(options).expect("options as JSON");
        let public_key = &options["publicKey"];
        let challenge = public_key["challenge"].as_str().expect("a challenge");
        let rp_id = public_key["rp"]["id"].as_str().expect("an rp id");
        self.user_handle = Some(
            B64.decode(public_key["user"]["id"].as_str().expect("a user id"))
                .expect("a base64url user id"),
        );
        let client_data = self.client_data("webauthn.create", challenge);
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut cose = map(5);
        cose.extend(uint(1).into_iter().chain(uint(2))); // kty: EC2
        cose.extend(uint(3).into_iter().chain(negative(7))); // alg: ES256
        cose.extend(negative(1).into_iter().chain(uint(1))); // crv: P-256
        cose.extend(negative(2).into_iter().chain(bytes(point.x().expect("x"))));
        cose.extend(negative(3).into_iter().chain(bytes(point.y().expect("y"))));
        let mut auth_data = self.auth_data(rp_id, 0x40);
        auth_data.extend([0; 16]); // AAGUID
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(self.credential_id);
        auth_data.extend(cose);
        let mut attestation = map(3);
        attestation.extend(text("fmt").into_iter().chain(text("none")));
        attestation.extend(text("attStmt").into_iter().chain(map(0)));
        attestation.extend(text("authData").into_iter().chain(bytes(&auth_data)));
        json!({
            "id": B64.encode(self.credential_id),
            "rawId": B64.encode(self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(attestation),
                "clientDataJSON": B64.encode(client_data),
                "transports": ["internal"],
            },
            "clientExtensionResults": { "credProps": { "rk": self.resident } },
        })
    }

    /// Answers `navigator.credentials.get` with `options`.
    pub fn get(&mut self, options: &impl Serialize) -> Value {
        let options = serde_json::to_value(options).expect("options as JSON");
        let public_key = &options["publicKey"];
        let challenge = public_key["challenge"].as_str().expect("a challenge");
        let rp_id = public_key["rpId"].as_str().expect("an rp id");
        let client_data = self.client_data("webauthn.get", challenge);
        self.counter += 1;
        let auth_data = self.auth_data(rp_id, 0);
        let signed = [auth_data.as_slice(), &Sha256::digest(&client_data)].concat();
        let signature: Signature = self.key.sign(&signed);
        let mut response = json!({
            "authenticatorData": B64.encode(&auth_data),
            "clientDataJSON": B64.encode(&client_data),
            "signature": B64.encode(signature.to_der().as_bytes()),
        });
        if self.resident
            && let Some(handle) = &self.user_handle
        {
            response["userHandle"] = Value::String(B64.encode(handle));
        }
        json!({
            "id": B64.encode(self.credential_id),
            "rawId": B64.encode(self.credential_id),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        })
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .expect("client data")
    }

    /// rpIdHash, flags (user present, and `extra`) and the counter.
    fn auth_data(&self, rp_id: &str, extra: u8) -> Vec<u8> {
        let mut flags = 0x01 | extra;
        if self.verifies_user {
            flags |= 0x04;
        }
        if self.backup_eligible {
            flags |= 0x08 | 0x10;
        }
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        data
    }
}

/// An answer (or any JSON) as the core takes it.
pub fn raw(json: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(json).expect("JSON")
}

/// A CBOR head: major type and argument.
fn head(major: u8, value: u64) -> Vec<u8> {
    let major = major << 5;
    match value {
        0..=23 => vec![major | value as u8],
        24..=0xff => vec![major | 24, value as u8],
        0x100..=0xffff => [vec![major | 25], (value as u16).to_be_bytes().to_vec()].concat(),
        _ => [vec![major | 26], (value as u32).to_be_bytes().to_vec()].concat(),
    }
}

fn uint(value: u64) -> Vec<u8> {
    head(0, value)
}

/// The CBOR integer `-value`.
fn negative(value: u64) -> Vec<u8> {
    head(1, value - 1)
}

fn bytes(data: &[u8]) -> Vec<u8> {
    [head(2, data.len() as u64), data.to_vec()].concat()
}

fn text(data: &str) -> Vec<u8> {
    [head(3, data.len() as u64), data.as_bytes().to_vec()].concat()
}

fn map(entries: u64) -> Vec<u8> {
    head(5, entries)
}
