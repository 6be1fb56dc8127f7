//! Redis function libraries: the hot path's Lua, loaded once and called
//! by name.
//!
//! A script sent with `EVALSHA` runs its whole body on every call: it
//! defines its helper functions again and reads every parameter (each
//! rate-limit policy's algorithm, limit, window, burst) from its
//! arguments. A function library (Redis 7) is loaded once with
//! `FUNCTION LOAD`; its helpers and constants (the policy table) stay in
//! Redis between calls, and an `FCALL` carries only keys and a few
//! numbers. That halved what admitting a request costs Redis.
//!
//! A library is named by a hash of its code, so instances running other
//! code or another configuration (a rolling upgrade, a changed policy)
//! never replace each other's functions. Redis forgets functions when it
//! restarts without persistence, and a Cluster node added later has none:
//! a call that finds its function missing loads the library (on every
//! primary of a Cluster) and is sent once more, as redis-rs does for
//! scripts. Libraries of configurations no longer running stay in Redis
//! (a few kilobytes each) until `FUNCTION DELETE` removes them.

use std::fmt::Write as _;

use redis::{Cmd, FromRedisValue};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};

/// A function library, named by a hash of its code.
#[derive(Debug)]
pub struct Library {
    code: String,
    /// Each function as the code names it, and as Redis knows it.
    functions: Vec<(&'static str, String)>,
}

impl Library {
    /// The library of `body` (Lua defining `functions` as local functions
    /// taking `keys, args`), exporting each of `functions`.
    pub fn new(body: &str, functions: &[&'static str]) -> Self {
        let hash = crate::random::hex_of(&Sha256::digest(body.as_bytes())[..6]);
        let mut code = format!("#!lua name=gatehouse_{hash}\n{body}\n");
        let functions = functions
            .iter()
            .map(|function| {
                let name = format!("gh_{function}_{hash}");
                let _ = writeln!(code, "redis.register_function('{name}', {function})");
                (*function, name)
            })
            .collect();
        Self { code, functions }
    }

    /// An `FCALL` of `function` with `keys` keys: the caller adds the keys,
    /// then the arguments (room for `args` of them is reserved).
    pub fn call(&self, function: &str, keys: usize, args: usize) -> Cmd {
        let name = self.name(function).unwrap_or(function);
        let mut cmd = Cmd::with_capacity(3 + keys + args, 48 * (keys + args) + 32);
        cmd.arg("FCALL").arg(name).arg(keys);
        cmd
    }

    /// The name Redis knows `function` by.
    pub fn name(&self, function: &str) -> Option<&str> {
        self.functions
            .iter()
            .find(|(f, _)| *f == function)
            .map(|(_, name)| name.as_str())
    }

    /// The code, as `FUNCTION LOAD` takes it.
    pub fn code(&self) -> &str {
        &self.code
    }
}

impl Store {
    /// Loads `library` into Redis (every primary of a Cluster), replacing
    /// a library of the same name (which has the same code).
    pub async fn load(&self, library: &Library) -> Result<(), StoreError> {
        let _: redis::Value = redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg("REPLACE")
            .arg(library.code())
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Runs `call` (made by [`Library::call`]); if Redis does not know the
    /// function yet, loads `library` and runs it once more.
    pub async fn fcall<T: FromRedisValue>(
        &self,
        library: &Library,
        call: &Cmd,
    ) -> Result<T, StoreError> {
        match call.query_async(&mut self.conn()).await {
            Err(err) if is_missing_function(&err) => {
                tracing::info!("loading Gatehouse's Redis functions");
                self.load(library).await?;
                Ok(call.query_async(&mut self.conn()).await?)
            }
            result => Ok(result?),
        }
    }
}

/// Redis's answer to an `FCALL` of a function it does not have.
fn is_missing_function(err: &redis::RedisError) -> bool {
    err.code() == Some("ERR")
        && err
            .detail()
            .is_some_and(|d| d.starts_with("Function not found"))
}
