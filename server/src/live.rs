//! Live updates for the console: one stream reader per instance, fanned
//! out to its Server-Sent-Events clients.
//!
//! The [`EventHub`] tails the security event stream in Redis (`XREAD
//! BLOCK` on a connection of its own) and broadcasts each event to the
//! SSE connections of this instance. Because it reads Redis, an event
//! produced on another instance shows up here too. A client that
//! reconnects sends `Last-Event-ID` and first gets what it missed.
//! Heartbeats (SSE comments) keep idle connections open through proxies.
//! On shutdown the hub ends every stream, so graceful shutdown does not
//! wait on open consoles.
//!
//! A stream is admitted once, when it opens, but may stay open for hours;
//! so it re-checks its caller every few seconds (and when its token
//! expires) and ends with a `session_ended` event as soon as the admin has
//! signed out, been revoked, demoted or disabled. The console then says so
//! and offers to sign in again.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Extension, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use gatehouse::Store;
use gatehouse::api::ApiError;
use gatehouse::auth::Client;
use gatehouse::events::{Event, Events};
use gatehouse_app::caller::Authenticated;
use gatehouse_app::state::AppState;
use http::HeaderMap;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::error::HttpError;

/// How long one `XREAD` waits before asking again.
const BLOCK: Duration = Duration::from_secs(5);
/// The most events sent to a reconnecting client to catch up.
const BACKLOG: usize = 1_000;
/// How often an open stream re-checks that its admin may still see it.
const RECHECK: Duration = Duration::from_secs(5);

/// This instance's event reader and its subscribers.
#[derive(Clone)]
pub struct EventHub {
    events: broadcast::Sender<Arc<Event>>,
    closed: watch::Receiver<bool>,
    close: Arc<watch::Sender<bool>>,
    task: Arc<JoinHandle<()>>,
    progress: Arc<Progress>,
}

/// How far the reader has come (what tests wait for instead of sleeping).
#[derive(Default)]
struct Progress {
    /// The reader knows where the stream ended when it started: every
    /// event written since reaches subscribers.
    tailing: std::sync::atomic::AtomicBool,
    /// Events read so far.
    read: std::sync::atomic::AtomicU64,
}

impl EventHub {
    /// Starts tailing the stream from its current end.
    pub fn start(store: Store, events: Events) -> Self {
        let (sender, _) = broadcast::channel(4_096);
        let (close, closed) = watch::channel(false);
        let progress = Arc::new(Progress::default());
        let task = tokio::spawn(tail(store, events, sender.clone(), progress.clone()));
        Self {
            events: sender,
            closed,
            close: Arc::new(close),
            task: Arc::new(task),
            progress,
        }
    }

    /// Whether every event written from now on reaches subscribers.
    pub fn is_tailing(&self) -> bool {
        self.progress.tailing.load(Ordering::Acquire)
    }

    /// How many events the hub has read from the stream.
    pub fn events_read(&self) -> u64 {
        self.progress.read.load(Ordering::Relaxed)
    }

    /// Ends every open stream and stops reading (at shutdown).
    pub fn close(&self) {
        let _ = self.close.send(true);
        self.task.abort();
    }
}

async fn tail(
    store: Store,
    events: Events,
    sender: broadcast::Sender<Arc<Event>>,
    progress: Arc<Progress>,
) {
    let mut last = loop {
        match events.last_id().await {
            Ok(id) => break id,
            Err(err) => {
                tracing::warn!(error = %err, "event hub waiting for Redis");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    progress.tailing.store(true, Ordering::Release);
    loop {
        let mut conn = match store.dedicated(BLOCK).await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(error = %err, "event hub cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            match Events::tail(&mut conn, &last, BLOCK).await {
                Ok(batch) => {
                    progress
                        .read
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    for event in batch {
                        last.clone_from(&event.id);
                        // No subscribers is fine.
                        let _ = sender.send(Arc::new(event));
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "event hub lost Redis; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

/// Stream ids compare by (milliseconds, sequence).
fn stream_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

fn sse(event: &Event) -> SseEvent {
    SseEvent::default()
        .id(event.id.clone())
        .event(event.kind.name())
        .data(serde_json::to_string(event).unwrap_or_default())
}

/// Where the live event feed is served.
pub const STREAM_PATH: &str = "/api/v1/admin/events/stream";

/// `GET /api/v1/admin/events/stream`: the live event feed (admins only;
/// bearer token or cookie). Each SSE event's `id` is its stream id, its
/// `event` the kind and its `data` the JSON event.
pub async fn stream(
    State(state): State<AppState>,
    Extension(hub): Extension<EventHub>,
    verdict: Option<Extension<Authenticated>>,
    client: Option<Extension<Client>>,
    headers: HeaderMap,
) -> Response {
    let principal = match verdict.map(|Extension(v)| v) {
        Some(Authenticated::Principal(p)) => p,
        Some(Authenticated::Rejected(err)) => return HttpError(err).into_response(),
        Some(Authenticated::Anonymous) | None => {
            return HttpError(ApiError::unauthenticated()).into_response();
        }
    };
    let client = client.map(|Extension(c)| c).unwrap_or_default();
    let admin = match state.auth.admin(&principal, &client) {
        Ok(admin) => admin,
        Err(err) => return HttpError(err.into()).into_response(),
    };
    // Subscribe first, then read the backlog: nothing falls in between.
    let live = hub.events.subscribe();
    let last_seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let backlog = match &last_seen {
        Some(id) => admin.events_after(id, BACKLOG).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let mut newest = backlog
        .last()
        .map(|e| stream_id(&e.id))
        .or_else(|| last_seen.as_deref().map(stream_id))
        .unwrap_or((0, 0));
    // A full page of backlog: send it and end with a short retry, so the
    // client comes back at once for the next page (a console far behind
    // pages through what it missed instead of skipping it).
    let more_backlog = backlog.len() >= BACKLOG;
    let backlog =
        futures_util::stream::iter(backlog.into_iter().map(|e| Ok::<_, Infallible>(sse(&e))));
    if more_backlog {
        let page = backlog.chain(futures_util::stream::once(async { Ok(resume()) }));
        return Sse::new(until_closed(page, hub.closed.clone())).into_response();
    }
    let live = futures_util::stream::unfold(Some(live), |live| async move {
        let mut live = live?;
        match live.recv().await {
            Ok(event) => Some((Some(event), Some(live))),
            // A client too slow to keep up would silently miss events: end
            // its stream with a short retry instead. The browser reconnects
            // with `Last-Event-ID` and gets what it missed from Redis.
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::info!(
                    missed,
                    "a console fell behind; ending its stream so it resumes"
                );
                Some((None, None))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
    .filter_map(move |event| {
        let Some(event) = event else {
            return std::future::ready(Some(Ok::<_, Infallible>(resume())));
        };
        let id = stream_id(&event.id);
        let fresh = id > newest;
        if fresh {
            newest = id;
        }
        std::future::ready(fresh.then(|| Ok::<_, Infallible>(sse(&event))))
    });
    let open = OpenStream::new();
    let stream = until_closed(
        while_allowed(backlog.chain(live), state.auth.clone(), principal),
        hub.closed.clone(),
    )
    // The gauge counts the stream until the response is dropped.
    .map(move |event| {
        let _ = &open;
        event
    });
    Sse::new(stream)
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(15))
                .text("heartbeat"),
        )
        .into_response()
}

/// One open console stream on the `gatehouse_console_streams` gauge, for
/// as long as it lives.
struct OpenStream;

impl OpenStream {
    fn new() -> Self {
        metrics::gauge!(gatehouse::observe::CONSOLE_STREAMS).increment(1.0);
        Self
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        metrics::gauge!(gatehouse::observe::CONSOLE_STREAMS).decrement(1.0);
    }
}

/// The last message of a stream that ends so that its client resumes
/// from its last event at once (SSE `retry`, in place of the browser's
/// default of a few seconds).
fn resume() -> SseEvent {
    SseEvent::default()
        .retry(Duration::from_millis(250))
        .comment("resume from your last event")
}

/// Ends `stream` with a `session_ended` event once its admin may no longer
/// see it (checked every [`RECHECK`] and at the token's expiry).
fn while_allowed<S>(
    stream: S,
    auth: gatehouse::auth::Auth,
    principal: gatehouse::auth::Principal,
) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    S: Stream<Item = Result<SseEvent, Infallible>>,
{
    let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = {
        let ended = ended.clone();
        async move {
            loop {
                let now = gatehouse::duration::epoch_ms() / 1000;
                let until_expiry =
                    Duration::from_secs(principal.token_expires_at.saturating_sub(now));
                tokio::time::sleep(RECHECK.min(until_expiry)).await;
                let now = gatehouse::duration::epoch_ms() / 1000;
                match auth.still_admin(&principal, now).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    // Redis unreachable: nothing new reaches the stream
                    // either; decide when it answers again.
                    Err(err) => {
                        tracing::debug!(error = %err, "live stream: cannot re-check the session")
                    }
                }
            }
            tracing::info!(session_id = %principal.session_id, "live stream ended with its session");
            ended.store(true, Ordering::Relaxed);
        }
    };
    stream.take_until(watch).chain(
        futures_util::stream::once(async move { ended.load(Ordering::Relaxed) })
            .filter_map(|ended| std::future::ready(ended.then(|| Ok(session_ended())))),
    )
}

/// The last message to an admin whose session ended: the browser stops
/// reconnecting and offers to sign in again.
fn session_ended() -> SseEvent {
    SseEvent::default()
        .event("session_ended")
        .data("Your session has ended. Sign in again to keep watching.")
}

/// Ends `stream` when the hub closes (at shutdown), with a last message
/// that tells the browser to reconnect in a second (to another instance,
/// or this one restarted) and resume from its last event.
fn until_closed<S>(
    stream: S,
    mut closed: watch::Receiver<bool>,
) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    S: Stream<Item = Result<SseEvent, Infallible>>,
{
    let shut = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = shut.clone();
    stream
        .take_until(async move {
            let _ = closed.wait_for(|closed| *closed).await;
            flag.store(true, Ordering::Relaxed);
        })
        .chain(
            futures_util::stream::once(async move { shut.load(Ordering::Relaxed) }).filter_map(
                |shut| {
                    std::future::ready(shut.then(|| {
                        Ok(SseEvent::default()
                            .retry(Duration::from_secs(1))
                            .comment("this instance is shutting down; reconnect"))
                    }))
                },
            ),
        )
}

#[cfg(test)]
mod tests {
    use super::stream_id;

    #[test]
    fn stream_ids_order_numerically() {
        assert!(stream_id("1700000000000-10") > stream_id("1700000000000-9"));
        assert!(stream_id("1700000000001-0") > stream_id("1700000000000-99"));
    }
}
