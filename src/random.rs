//! Unguessable identifiers from the operating system's CSPRNG.
//!
//! Session ids, token ids, lock owner tokens and refresh tokens are all
//! bearer secrets or must not collide across instances, so they come from
//! `getrandom` (never a seeded PRNG) and are at least 128 bits long.

use std::fmt::Write;

/// `N` random bytes from the OS.
///
/// # Panics
/// Only if the OS random source is unavailable, which on Linux means the
/// system is unusable for cryptography anyway; continuing would be worse.
#[allow(clippy::expect_used)]
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the OS random number generator failed");
    buf
}

/// Lower-case hex of `N` random bytes (`2 * N` characters).
pub fn hex<const N: usize>() -> String {
    hex_of(&bytes::<N>())
}

/// Lower-case hex of `bytes` (random or not: digests, key ids).
pub fn hex_of(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// 128 bits as 32 hex digits from a per-thread generator seeded once
/// from the OS (wyrand): for ids that must not collide or reveal how many
/// requests a process served, but are not secrets (request ids,
/// sliding-log entries), without a system call per request. Never use it
/// for tokens or keys.
pub fn fast_hex() -> String {
    String::from_utf8_lossy(&fast_hex_digits()).into_owned()
}

/// [`fast_hex`] as ASCII bytes, for callers that write it into a buffer
/// of their own (no allocation).
pub fn fast_hex_digits() -> [u8; 32] {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(u64::from_le_bytes(bytes::<8>()));
    }
    let next = || {
        STATE.with(|state| {
            let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
            state.set(s);
            let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
            ((t >> 64) as u64) ^ (t as u64)
        })
    };
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (half, value) in [next(), next()].into_iter().enumerate() {
        for i in 0..16 {
            let nibble = (value >> (60 - 4 * i)) & 0xf;
            out[16 * half + i] = DIGITS[nibble as usize];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn fast_hex_ids_differ() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| super::fast_hex()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 32));
    }

    #[test]
    fn hex_ids_have_the_right_length_and_differ() {
        let a = super::hex::<16>();
        let b = super::hex::<16>();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
