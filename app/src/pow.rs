//! Solving sign-in challenges in the browser.
//!
//! When sign-in is under attack, the server asks for a proof of work: a
//! string `s` such that SHA-256 of `salt + s` starts with `difficulty` zero
//! bits (the contract of `POST /api/v1/auth/challenge`). This counts up
//! from 0, hashing in slices of a few milliseconds and yielding to the
//! browser between them, so the page stays responsive (and can say
//! "Checking your browser…") while it works.

use gatehouse::api::auth::meets_difficulty;
use sha2::{Digest, Sha256};

/// Hashes per slice before yielding to the browser.
const SLICE: u64 = 20_000;

/// The first solution to the challenge.
pub async fn solve(salt: &str, difficulty: u8) -> String {
    let salted = Sha256::new().chain_update(salt.as_bytes());
    let mut candidate = String::with_capacity(20);
    let mut n: u64 = 0;
    loop {
        for _ in 0..SLICE {
            use std::fmt::Write;
            candidate.clear();
            let _ = write!(candidate, "{n}");
            let digest = salted.clone().chain_update(candidate.as_bytes()).finalize();
            if meets_difficulty(&digest, difficulty) {
                return candidate;
            }
            n += 1;
        }
        next_task().await;
    }
}

/// Lets the browser render and handle input (a zero-delay timer).
async fn next_task() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
