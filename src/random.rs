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
    bytes::<N>()
        .iter()
        .fold(String::with_capacity(2 * N), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// A string no other call, in this process or any other, returns: a
/// random per-process prefix and a counter. For values that must only be
/// unique, not unguessable (sliding-log entries), without a system call
/// per request.
pub fn unique() -> String {
    static PREFIX: std::sync::LazyLock<String> = std::sync::LazyLock::new(hex::<8>);
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}{n:x}", *PREFIX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique_values_differ() {
        let (a, b) = (super::unique(), super::unique());
        assert_ne!(a, b);
        assert_eq!(a[..16], b[..16], "one prefix per process");
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
