//! Reading the stream back: the console's feed (filtered, newest first),
//! catching up after a given id, the live tail, and the per-minute series
//! the overview draws.

use super::*;

impl Events {
    /// The most recent events matching `filter`, newest first, looking at
    /// no more than `scan` events.
    pub async fn recent(
        &self,
        filter: &Filter,
        limit: usize,
        scan: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.recent_in(Stream::All, filter, limit, scan).await
    }

    /// Like [`Events::recent`], in `stream`.
    pub async fn recent_in(
        &self,
        stream: Stream,
        filter: &Filter,
        limit: usize,
        scan: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut found = Vec::new();
        let mut end = "+".to_owned();
        let mut scanned = 0;
        while found.len() < limit && scanned < scan {
            let batch = (scan - scanned).min(1_000);
            let page: Vec<Event> = parse(
                redis::cmd("XREVRANGE")
                    .arg(stream.key())
                    .arg(&end)
                    .arg("-")
                    .arg("COUNT")
                    .arg(batch)
                    .query_async(&mut self.store.conn())
                    .await?,
            );
            let Some(last) = page.last() else {
                break;
            };
            end = format!("({}", last.id);
            scanned += page.len();
            let short = page.len() < batch;
            found.extend(page.into_iter().filter(|e| filter.matches(e)));
            if short {
                break;
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    /// Events after `id` (exclusive), oldest first: what a reconnecting
    /// console missed.
    pub async fn after(&self, id: &str, count: usize) -> Result<Vec<Event>, StoreError> {
        Ok(parse(
            redis::cmd("XRANGE")
                .arg(keys::events())
                .arg(format!("({id}"))
                .arg("+")
                .arg("COUNT")
                .arg(count)
                .query_async(&mut self.store.conn())
                .await?,
        ))
    }

    /// How many events the stream holds now.
    pub async fn stream_length(&self) -> Result<u64, StoreError> {
        Ok(redis::cmd("XLEN")
            .arg(keys::events())
            .query_async(&mut self.store.conn())
            .await?)
    }

    /// The id of the newest event (`0-0` when there is none).
    pub async fn last_id(&self) -> Result<String, StoreError> {
        let newest = parse(
            redis::cmd("XREVRANGE")
                .arg(keys::events())
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut self.store.conn())
                .await?,
        );
        Ok(newest
            .into_iter()
            .next()
            .map_or_else(|| "0-0".to_owned(), |e| e.id))
    }

    /// Waits up to `block` for events after `id` on a dedicated
    /// connection (blocking reads must not share the multiplexed one).
    pub async fn tail(
        conn: &mut (impl redis::aio::ConnectionLike + Send),
        id: &str,
        block: Duration,
    ) -> Result<Vec<Event>, StoreError> {
        let reply: redis::Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(BATCH)
            .arg("BLOCK")
            .arg(crate::duration::millis(block))
            .arg("STREAMS")
            .arg(keys::events())
            .arg(id)
            .query_async(conn)
            .await?;
        // [[stream, [[id, [field, value]], ...]]] or nil on timeout.
        let entries = match reply {
            redis::Value::Array(streams) => streams
                .into_iter()
                .filter_map(|stream| match stream {
                    redis::Value::Array(mut parts) if parts.len() == 2 => parts.pop(),
                    _ => None,
                })
                .next(),
            _ => None,
        };
        Ok(entries.map(parse).unwrap_or_default())
    }

    /// Per-minute counts of the [`COUNTED`] kinds for the last `minutes`
    /// minutes (oldest first): `(minute start ms, counts in COUNTED order)`.
    pub async fn series(&self, minutes: u64) -> Result<Vec<(u64, [u64; 4])>, StoreError> {
        let now = crate::duration::epoch_ms() / 60_000;
        let first = now + 1 - minutes.max(1);
        let mut cmd = redis::cmd("MGET");
        for minute in first..=now {
            for kind in COUNTED {
                cmd.arg(keys::event_count(kind.as_str(), minute));
            }
        }
        let values: Vec<Option<u64>> = cmd.query_async(&mut self.store.conn()).await?;
        Ok((first..=now)
            .zip(values.chunks(COUNTED.len()))
            .map(|(minute, counts)| {
                let mut row = [0; 4];
                for (slot, count) in row.iter_mut().zip(counts) {
                    *slot = count.unwrap_or(0);
                }
                (minute * 60_000, row)
            })
            .collect())
    }
}

/// Reads `[[id, [field, value, ...]], ...]`; entries that are not events
/// are skipped.
fn parse(value: redis::Value) -> Vec<Event> {
    let redis::Value::Array(entries) = value else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let (id, fields): (String, Vec<String>) = redis::from_redis_value(entry).ok()?;
            let json = fields
                .chunks_exact(2)
                .find(|pair| pair[0] == "e")
                .map(|pair| &pair[1])?;
            let mut event: Event = serde_json::from_str(json).ok()?;
            event.id = id;
            Some(event)
        })
        .collect()
}
