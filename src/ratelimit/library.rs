//! The function library of the request path: the session check, the
//! rate-limit algorithms and admission, loaded into Redis once (see
//! `store::library`), with the configured policies as a table in it.
//!
//! With the policies in Redis, a check names a policy by its number
//! instead of sending its algorithm, limit, window and burst with every
//! request; a different configuration is a different library (its name
//! hashes the code), so instances configured differently each run their
//! own.

use std::fmt::Write as _;

use super::{Algorithm, Policy, millis};
use crate::store::Library;

/// The entry points: `check_call` (rate limits alone) and `admit` (a
/// session's touch and its request's limits in one call).
pub(crate) const CHECK: &str = "check_call";
pub(crate) const ADMIT: &str = "admit";

/// The library for `policies` (numbered from 1 in this order).
pub(super) fn library(policies: &[Policy]) -> Library {
    let mut table = String::from("local POLICIES = {\n");
    for policy in policies {
        let _ = writeln!(
            table,
            "  {{ {}, {}, {}, {} }}, -- {}",
            algorithm_number(policy.algorithm),
            policy.limit,
            millis(policy.window),
            policy.burst,
            policy.name.replace(['\n', '\r'], " "),
        );
    }
    table.push_str("}\n");
    let body = [
        include_str!("../store/time.lua"),
        crate::session::TOUCH_LUA,
        include_str!("sliding_log.lua"),
        include_str!("sliding_counter.lua"),
        include_str!("gcra.lua"),
        &table,
        include_str!("check.lua"),
        ENTRY_POINTS,
        crate::auth::ADMIT_LUA,
    ]
    .join("\n");
    Library::new(&body, &[CHECK, ADMIT])
}

/// `check_call` (admit.lua has `admit`).
const ENTRY_POINTS: &str = "\
local function check_call(keys, args)
  return check(keys, 1, args, 1, now_ms(), {})
end
";

/// The algorithm's number in check.lua's `READ` and `COUNT`.
fn algorithm_number(algorithm: Algorithm) -> u8 {
    match algorithm {
        Algorithm::SlidingLog => 1,
        Algorithm::SlidingCounter => 2,
        Algorithm::Gcra => 3,
    }
}
