//! Signing and verification keys, and the public JWKS.
//!
//! Operators point Gatehouse at key files; each file is recognised by its
//! content:
//! - a PKCS#8 `PRIVATE KEY` (Ed25519 or RSA) or PKCS#1 `RSA PRIVATE KEY`
//!   PEM: signs (EdDSA or RS256) and verifies; its public half is published
//!   in `/.well-known/jwks.json`;
//! - a `PUBLIC KEY` PEM: verifies only (a retired key, kept until the
//!   tokens it signed have expired);
//! - anything else: an HS256 secret, at least 32 bytes.
//!
//! The last signing-capable file signs; every file verifies. That is key
//! rotation: add the new key at the end, and drop the old one a token
//! lifetime later. Key ids (`kid`) are derived from the public material (or
//! a hash of the secret), so every instance computes the same ids without
//! coordination and the id reveals nothing about a secret.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;
/// Smallest RSA modulus accepted.
const MIN_RSA_BITS: usize = 2048;

/// Why keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read JWT key file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("JWT key file {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "no signing key: every configured JWT key file is a public key; add a private key or an HS256 secret file"
    )]
    NoSigningKey,
}

/// A key that can sign.
#[derive(Clone)]
pub(crate) struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    /// SHA-256 of the private material, for deriving other keys from it.
    pub material: [u8; 32],
}

/// A key that can verify.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    pub kid: String,
    pub alg: Algorithm,
    pub decoding: DecodingKey,
    /// The public JWK, for asymmetric keys.
    pub jwk: Option<Value>,
}

/// All keys of this deployment.
#[derive(Clone)]
pub struct Keyring {
    pub(crate) signing: SigningKey,
    pub(crate) verifying: Vec<VerifyingKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("signing_kid", &self.signing.kid)
            .field(
                "verifying",
                &self.verifying.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn kid_of(material: &[u8]) -> String {
    let digest = Sha256::digest(material);
    crate::random::hex_of(&digest[..8])
}

/// One loaded key file.
struct Loaded {
    verifying: VerifyingKey,
    signing: Option<SigningKey>,
}

fn hs256(secret: &[u8]) -> Loaded {
    let kid = kid_of(&[b"gatehouse-hs256:".as_slice(), &Sha256::digest(secret)].concat());
    Loaded {
        verifying: VerifyingKey {
            kid: kid.clone(),
            alg: Algorithm::HS256,
            decoding: DecodingKey::from_secret(secret),
            jwk: None,
        },
        signing: Some(SigningKey {
            kid,
            alg: Algorithm::HS256,
            encoding: EncodingKey::from_secret(secret),
            material: Sha256::digest(secret).into(),
        }),
    }
}

fn ed25519_public(public: &[u8; 32]) -> Result<VerifyingKey, String> {
    let x = URL_SAFE_NO_PAD.encode(public);
    let kid = kid_of(public);
    Ok(VerifyingKey {
        decoding: DecodingKey::from_ed_components(&x).map_err(|e| e.to_string())?,
        jwk: Some(
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}),
        ),
        kid,
        alg: Algorithm::EdDSA,
    })
}

fn rsa_public(public: &rsa::RsaPublicKey) -> Result<VerifyingKey, String> {
    if public.size() * 8 < MIN_RSA_BITS {
        return Err(format!("RSA keys need at least {MIN_RSA_BITS} bits"));
    }
    let n = public.n().to_bytes_be();
    let e = public.e().to_bytes_be();
    let kid = kid_of(&[n.as_slice(), &e].concat());
    Ok(VerifyingKey {
        decoding: DecodingKey::from_rsa_raw_components(&n, &e),
        jwk: Some(json!({
            "kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&n), "e": URL_SAFE_NO_PAD.encode(&e),
            "kid": kid, "alg": "RS256", "use": "sig"
        })),
        kid,
        alg: Algorithm::RS256,
    })
}

fn parse(content: &[u8]) -> Result<Loaded, String> {
    let text = std::str::from_utf8(content).unwrap_or_default();
    if text.contains("-----BEGIN PRIVATE KEY-----") {
        if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(text) {
            let verifying = ed25519_public(&key.verifying_key().to_bytes())?;
            let encoding = EncodingKey::from_ed_pem(content).map_err(|e| e.to_string())?;
            return Ok(Loaded {
                signing: Some(SigningKey {
                    kid: verifying.kid.clone(),
                    alg: Algorithm::EdDSA,
                    encoding,
                    material: Sha256::digest(content).into(),
                }),
                verifying,
            });
        }
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(text)
            .map_err(|_| "a PRIVATE KEY that is neither Ed25519 nor RSA".to_owned())?;
        return rsa_private(&key, content);
    }
    if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| e.to_string())?;
        return rsa_private(&key, content);
    }
    if text.contains("-----BEGIN PUBLIC KEY-----") {
        let verifying = if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_pem(text) {
            ed25519_public(&key.to_bytes())?
        } else {
            let key = rsa::RsaPublicKey::from_public_key_pem(text)
                .map_err(|_| "a PUBLIC KEY that is neither Ed25519 nor RSA".to_owned())?;
            rsa_public(&key)?
        };
        return Ok(Loaded {
            verifying,
            signing: None,
        });
    }
    if text.contains("-----BEGIN") {
        return Err("unsupported PEM; use PKCS#8 Ed25519/RSA keys or an HS256 secret".to_owned());
    }
    let secret = trim_newlines(content);
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "an HS256 secret must be at least {MIN_SECRET_BYTES} bytes (this one has {}); \
             generate one with `head -c 48 /dev/urandom | base64`",
            secret.len()
        ));
    }
    Ok(hs256(secret))
}

fn rsa_private(key: &rsa::RsaPrivateKey, pem: &[u8]) -> Result<Loaded, String> {
    let verifying = rsa_public(&key.to_public_key())?;
    let encoding = EncodingKey::from_rsa_pem(pem).map_err(|e| e.to_string())?;
    Ok(Loaded {
        signing: Some(SigningKey {
            kid: verifying.kid.clone(),
            alg: Algorithm::RS256,
            encoding,
            material: Sha256::digest(pem).into(),
        }),
        verifying,
    })
}

fn trim_newlines(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r'))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

impl Keyring {
    /// Loads the key files, in order; the last one that can sign signs.
    pub fn from_files(paths: &[impl AsRef<Path>]) -> Result<Self, KeyError> {
        let mut signing = None;
        let mut verifying = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let content = std::fs::read(path).map_err(|source| KeyError::Read {
                path: path.to_owned(),
                source,
            })?;
            let loaded = parse(&content).map_err(|reason| KeyError::Invalid {
                path: path.to_owned(),
                reason,
            })?;
            if loaded.signing.is_some() {
                signing = loaded.signing;
            }
            verifying.push(loaded.verifying);
        }
        Ok(Self {
            signing: signing.ok_or(KeyError::NoSigningKey)?,
            verifying,
        })
    }

    /// A keyring with a single HS256 secret.
    pub fn from_secret(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::Invalid {
                path: PathBuf::from("(secret)"),
                reason: format!("an HS256 secret must be at least {MIN_SECRET_BYTES} bytes"),
            });
        }
        let loaded = hs256(secret);
        Ok(Self {
            signing: loaded.signing.ok_or(KeyError::NoSigningKey)?,
            verifying: vec![loaded.verifying],
        })
    }

    /// A 256-bit key for `purpose`, derived from the signing key: every
    /// instance with the same keys derives the same one, and it reveals
    /// nothing about the signing key.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"gatehouse derived key:");
        hasher.update(purpose.as_bytes());
        hasher.update(b":");
        hasher.update(self.signing.material);
        hasher.finalize().into()
    }

    /// The id of the key that signs new tokens.
    pub fn signing_kid(&self) -> &str {
        &self.signing.kid
    }

    pub(crate) fn verifying(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.iter().find(|k| k.kid == kid)
    }

    /// The public keys as a JWK Set (empty when only HS256 secrets are
    /// configured: those must never be published).
    pub fn jwks(&self) -> Value {
        let keys: Vec<&Value> = self
            .verifying
            .iter()
            .filter_map(|k| k.jwk.as_ref())
            .collect();
        json!({ "keys": keys })
    }
}
