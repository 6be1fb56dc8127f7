//! One `check` call's keys and arguments, written straight into the
//! command (see check.lua for their layout): no string is built for a
//! key, a number or the whole argument list.

use redis::Cmd;

use super::{Check, LimitError, Limiter, REPLAY_WINDOW, millis};
use crate::store::keys::Key;

/// What a call of `check` (alone or inside admission) checks.
pub(crate) struct CheckCall<'a, 'p> {
    checks: &'a [Check<'p>],
    commit: bool,
    /// A replay nonce to remember: (user id, nonce).
    nonce: Option<(&'a str, &'a str)>,
    /// Subjects due to be (re)listed in the index, with their longest
    /// window (empty on most calls: see `listing`).
    members: Vec<(String, u64)>,
    /// Each check's policy number in the library's table (1-based).
    numbers: [u16; MOST_CHECKS],
}

/// The most policies one request is checked against.
const MOST_CHECKS: usize = 32;

impl Limiter {
    /// The call for `checks` (and a replay `nonce`: user id and nonce);
    /// when counted (`commit`), with the subjects due to be listed.
    pub(crate) fn call<'a, 'p>(
        &self,
        checks: &'a [Check<'p>],
        commit: bool,
        nonce: Option<(&'a str, &'a str)>,
        listing: bool,
    ) -> Result<CheckCall<'a, 'p>, LimitError> {
        if checks.len() > MOST_CHECKS {
            return Err(LimitError::Corrupt(format!(
                "{} policies apply to one request; at most {MOST_CHECKS} can",
                checks.len()
            )));
        }
        let mut numbers = [0; MOST_CHECKS];
        for (number, check) in numbers.iter_mut().zip(checks) {
            *number = self.number_of(check.policy)?;
        }
        let members = if commit && listing {
            self.due_listings(checks)
        } else {
            Vec::new()
        };
        Ok(CheckCall {
            checks,
            commit,
            nonce,
            members,
            numbers,
        })
    }
}

impl CheckCall<'_, '_> {
    /// How many keys [`CheckCall::write_keys`] writes.
    pub(crate) fn key_count(&self) -> usize {
        self.checks.len()
            + usize::from(!self.members.is_empty())
            + usize::from(self.nonce.is_some())
    }

    /// How many arguments [`CheckCall::write_args`] writes.
    pub(crate) fn arg_count(&self) -> usize {
        5 + 2 * self.members.len() + 2 * self.checks.len()
    }

    pub(crate) fn write_keys(&self, cmd: &mut Cmd) {
        for check in self.checks {
            check
                .subject
                .with_key(&check.policy.name, |key| cmd.arg(key));
        }
        if !self.members.is_empty() {
            cmd.arg(Key::RateLimitIndex);
        }
        if let Some((user_id, nonce)) = self.nonce {
            cmd.arg(Key::ReplayNonce { user_id, nonce });
        }
    }

    pub(crate) fn write_args(&self, cmd: &mut Cmd) {
        cmd.arg(if self.commit { "1" } else { "0" })
            .arg(&crate::random::fast_hex_digits()[..])
            .arg(self.checks.len())
            .arg(self.members.len())
            .arg(millis(2 * REPLAY_WINDOW));
        for (member, window) in &self.members {
            cmd.arg(member).arg(*window);
        }
        for (check, number) in self.checks.iter().zip(self.numbers) {
            cmd.arg(number).arg(check.cost);
        }
    }

    /// The whole call on its own (`check_call`).
    pub(crate) fn command(&self, limiter: &Limiter) -> Cmd {
        let mut cmd =
            limiter
                .library()
                .call(super::library::CHECK, self.key_count(), self.arg_count());
        self.write_keys(&mut cmd);
        self.write_args(&mut cmd);
        cmd
    }
}
