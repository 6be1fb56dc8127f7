//! Verifying a token, the request path's way.
//!
//! Every protected request verifies its token. `jsonwebtoken::decode`
//! parses the header twice, decodes each part into a fresh buffer and
//! deserializes the claims twice (once more to validate them), against
//! rules held as sets of strings: about thirty allocations a request.
//! Here the header and the claims are decoded into stack buffers and
//! parsed once, the signature is checked by jsonwebtoken's own crypto, and
//! the registered claims are validated by the same rules, in the same
//! order: expiry, not-before, issuer, audience.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Keyring, TokenError};

/// The longest header and claims decoded (a token is at most 8 KiB of
/// base64, so its claims at most 6 KiB of JSON).
const HEADER_BYTES: usize = 512;
const CLAIMS_BYTES: usize = 6 * 1024;

/// What a token must satisfy besides its signature.
pub(super) struct Rules<'a> {
    pub issuer: &'a str,
    /// `aud` must be one of these.
    pub audiences: &'a [&'a str],
    /// Refuse a token past its `exp` (false only to renew the current token
    /// of a live session).
    pub check_expiry: bool,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway: u64,
    /// Now, in seconds since the epoch.
    pub now: u64,
}

/// The registered claims of a token type, for validation.
pub(super) trait Registered {
    fn exp(&self) -> u64;
    fn nbf(&self) -> u64;
    fn iss(&self) -> &str;
    fn aud(&self) -> &str;
}

#[derive(Deserialize)]
struct Header<'a> {
    /// `none` and algorithms jsonwebtoken does not know fail to parse.
    alg: Algorithm,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
}

/// Verifies `token` (signature by the key its `kid` names, with exactly
/// that key's algorithm; then `rules`) and returns its claims.
pub(super) fn verify<C: DeserializeOwned + Registered>(
    token: &str,
    keyring: &Keyring,
    rules: &Rules<'_>,
) -> Result<C, TokenError> {
    let mut parts = token.splitn(3, '.');
    let (Some(header), Some(claims), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Invalid("malformed"));
    };
    let mut buffer = [0u8; HEADER_BYTES];
    let header: Header<'_> = decode(header, &mut buffer)
        .and_then(|json| serde_json::from_slice(json).ok())
        .ok_or(TokenError::Invalid("malformed header"))?;
    let kid = header.kid.ok_or(TokenError::Invalid("no kid"))?;
    let key = keyring
        .verifying(&kid)
        .ok_or(TokenError::Invalid("unknown kid"))?;
    // The key decides the algorithm, never the token.
    if header.alg != key.alg {
        return Err(TokenError::Invalid("algorithm does not match the key"));
    }
    let message = &token[..header_and_claims_len(token, signature)];
    let signed =
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.decoding, key.alg)
            .unwrap_or(false);
    if !signed {
        return Err(TokenError::Invalid("bad signature"));
    }
    let mut buffer = [0u8; CLAIMS_BYTES];
    let claims: C = decode(claims, &mut buffer)
        .and_then(|json| serde_json::from_slice(json).ok())
        .ok_or(TokenError::Invalid("malformed"))?;
    if rules.check_expiry && claims.exp() < rules.now.saturating_sub(rules.leeway) {
        return Err(TokenError::Expired);
    }
    if claims.nbf() > rules.now.saturating_add(rules.leeway) {
        return Err(TokenError::Invalid("not yet valid"));
    }
    if claims.iss() != rules.issuer {
        return Err(TokenError::Invalid("wrong issuer"));
    }
    if !rules.audiences.contains(&claims.aud()) {
        return Err(TokenError::Invalid("wrong audience"));
    }
    Ok(claims)
}

/// `part` decoded from unpadded base64url into `buffer`, if it fits.
fn decode<'b>(part: &str, buffer: &'b mut [u8]) -> Option<&'b [u8]> {
    let len = URL_SAFE_NO_PAD.decode_slice(part, buffer).ok()?;
    buffer.get(..len)
}

/// The length of `header.claims`: everything before the signature's dot.
fn header_and_claims_len(token: &str, signature: &str) -> usize {
    token.len() - signature.len() - 1
}
