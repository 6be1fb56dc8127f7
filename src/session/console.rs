//! Every user's sessions at once, for the console: pages of the global
//! index, the counts on the overview, and the pruning of index entries
//! whose sessions ended.

use super::*;

impl Sessions {
    /// Live sessions of all users, most recently started first (the
    /// console's view). Entries of sessions that ended are pruned as they
    /// are met, so a page may come back shorter than `limit`.
    pub async fn list_all(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<Session>), SessionError> {
        let (total, page) = self
            .store
            .live_index_page(&keys::all_sessions(), offset, limit)
            .await?;
        let members: Vec<String> = page.into_iter().map(|(member, _)| member).collect();
        let entries: Vec<(&str, (&str, &str))> = members
            .iter()
            .filter_map(|member| Some((member.as_str(), member.split_once(':')?)))
            .collect();
        let ids: Vec<(&str, &str)> = entries.iter().map(|&(_, id)| id).collect();
        let mut sessions = Vec::with_capacity(ids.len());
        let mut dead = Vec::new();
        for (&(member, _), loaded) in entries.iter().zip(self.load(&ids).await?) {
            match loaded {
                Some(session) => sessions.push(session),
                None => dead.push(member),
            }
        }
        self.forget(&dead).await?;
        Ok((total.saturating_sub(dead.len() as u64), sessions))
    }

    /// How many sessions and users are live (from the console's indexes,
    /// pruned by absolute expiry here and by [`Sessions::prune_index`]).
    pub async fn counts(&self) -> Result<(u64, u64), SessionError> {
        let now = crate::duration::epoch_ms();
        let (sessions, users): (u64, u64) = redis::pipe()
            .cmd("ZREMRANGEBYSCORE")
            .arg(keys::all_sessions())
            .arg("-inf")
            .arg(now)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(keys::active_users())
            .arg("-inf")
            .arg(now)
            .ignore()
            .cmd("ZCARD")
            .arg(keys::all_sessions())
            .cmd("ZCARD")
            .arg(keys::active_users())
            .query_async(&mut self.store.conn())
            .await?;
        Ok((sessions, users))
    }

    /// Walks the console's session index from `cursor` and removes entries
    /// whose session ended (idle timeout, eviction). Returns the next
    /// cursor (0 when done) and how many entries were removed.
    pub async fn prune_index(&self, cursor: u64, batch: u64) -> Result<(u64, u64), StoreError> {
        let (next, flat): (u64, Vec<String>) = redis::cmd("ZSCAN")
            .arg(keys::all_sessions())
            .arg(cursor)
            .arg("COUNT")
            .arg(batch)
            .query_async(&mut self.store.conn())
            .await?;
        let members: Vec<&String> = flat.iter().step_by(2).collect();
        if members.is_empty() {
            return Ok((next, 0));
        }
        let mut pipe = redis::pipe();
        for member in &members {
            let (user, session) = member.split_once(':').unwrap_or(("", ""));
            pipe.cmd("EXISTS").arg(keys::session(user, session));
        }
        let exists: Vec<u8> = pipe.query_async(&mut self.store.conn()).await?;
        let dead: Vec<&str> = members
            .iter()
            .zip(exists)
            .filter(|(_, alive)| *alive == 0)
            .map(|(member, _)| member.as_str())
            .collect();
        self.forget(&dead).await?;
        Ok((next, dead.len() as u64))
    }

    /// Takes index entries (`<user id>:<session id>`) of ended sessions
    /// out of the console's index.
    async fn forget(&self, dead: &[&str]) -> Result<(), StoreError> {
        if dead.is_empty() {
            return Ok(());
        }
        let _: () = redis::cmd("ZREM")
            .arg(keys::all_sessions())
            .arg(dead)
            .query_async(&mut self.store.conn())
            .await?;
        Ok(())
    }
}
