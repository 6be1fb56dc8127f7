//! The services [`Auth`] is built from, reachable by name only inside the
//! core, and by tests and benchmarks (feature `test-util`) that set up and
//! inspect what they test. Everyone else goes through the operations
//! ([`crate::ops`]), which is how the core keeps its rules and its audit
//! trail in one place.

use super::Auth;
use crate::blacklist::Blacklist;
use crate::events::Events;
use crate::lock::Locks;
use crate::ratelimit::Limiter;
use crate::session::Sessions;
use crate::store::Store;
use crate::token::Tokens;
use crate::user::Users;

/// The getters, at the visibility `$vis`.
macro_rules! services {
    ($vis:vis) => {
        impl Auth {
            /// The Redis connection every service shares.
            $vis fn store(&self) -> &Store {
                &self.inner.store
            }

            $vis fn blacklist(&self) -> &Blacklist {
                &self.inner.blacklist
            }

            $vis fn locks(&self) -> &Locks {
                &self.inner.locks
            }

            $vis fn limiter(&self) -> &Limiter {
                &self.inner.limiter
            }

            $vis fn events(&self) -> &Events {
                &self.inner.events
            }

            $vis fn users(&self) -> &Users {
                &self.inner.users
            }

            $vis fn sessions(&self) -> &Sessions {
                &self.inner.sessions
            }

            $vis fn factors(&self) -> &crate::mfa::Factors {
                &self.inner.factors
            }

            #[allow(dead_code, reason = "only tests read the tokens service")]
            $vis fn tokens(&self) -> &Tokens {
                &self.inner.tokens
            }
        }
    };
}

#[cfg(feature = "test-util")]
services!(pub);
#[cfg(not(feature = "test-util"))]
services!(pub(crate));
