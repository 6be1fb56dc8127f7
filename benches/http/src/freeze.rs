//! Redis frozen under load: how fast the breaker opens, how fast requests
//! are answered while it is open, how fast service returns, and whether
//! anything was let through that should not have been.
//!
//! Twenty keep-alive clients send `POST /api/v1/auth/me` in a loop, four
//! of them with a token that was signed out before the freeze and two with
//! one that signs out a second into the freeze (the sign-out journal keeps
//! it). After a second of normal service the Redis process is stopped
//! (`SIGSTOP`, its connections left open: the hang that no connection
//! error reveals), left frozen for three seconds and continued
//! (`SIGCONT`). Every request's start, end, status and whether it was
//! answered in degraded mode (`X-Gatehouse-Degraded`, on by default) are
//! kept; the table is computed from them afterwards. `FREEZE_TIMELINE=1`
//! also prints the answers per 100 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gatehouse::testing::TestRedis;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{ms, percentile, table};

const CLIENTS: usize = 20;
const REVOKED_CLIENTS: usize = 4;
const SIGNING_OUT_CLIENTS: usize = 2;
/// A request slower than this counts as hung (and the connection is
/// dropped, as a proxy in front would).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// One request as a client saw it, in offsets from the start.
struct Exchange {
    start: Duration,
    end: Duration,
    /// The HTTP status, or 0 when there was no answer.
    status: u16,
    /// Answered in degraded mode (from the token and the mirror).
    degraded: bool,
    token: Token,
}

/// Which token a client sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Valid,
    /// Signed out before the freeze.
    Revoked,
    /// Signed out during the freeze.
    SigningOut,
}

/// The tokens the clients send.
pub struct Tokens<'a> {
    pub valid: &'a str,
    pub revoked: &'a str,
    pub signing_out: &'a str,
}

/// The sign-out sent during the freeze, as its client saw it.
struct SignOut {
    /// When it was answered.
    end: Duration,
    took: Duration,
    status: u16,
}

/// Runs the freeze and prints its table.
pub async fn run(port: u16, tokens: Tokens<'_>, redis: &TestRedis) {
    let origin = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (kind, token) = if i < REVOKED_CLIENTS {
                (Token::Revoked, tokens.revoked)
            } else if i < REVOKED_CLIENTS + SIGNING_OUT_CLIENTS {
                (Token::SigningOut, tokens.signing_out)
            } else {
                (Token::Valid, tokens.valid)
            };
            tokio::spawn(client(port, token.to_owned(), kind, origin, stop.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let frozen = origin.elapsed();
    redis.freeze();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let request = format!(
        "POST /api/v1/auth/logout HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 0\r\n\r\n",
        tokens.signing_out
    );
    let start = origin.elapsed();
    let status = tokio::time::timeout(CLIENT_TIMEOUT, send(&mut None, port, &request))
        .await
        .ok()
        .flatten()
        .map_or(0, |(status, _)| status);
    let end = origin.elapsed();
    let sign_out = SignOut {
        end,
        took: end - start,
        status,
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let thawed = origin.elapsed();
    redis.thaw();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut exchanges = Vec::new();
    for client in clients {
        exchanges.extend(client.await.unwrap());
    }
    report(&exchanges, &sign_out, frozen, thawed);
    if std::env::var("FREEZE_TIMELINE").is_ok() {
        timeline(&exchanges, frozen, thawed);
    }
}

/// Answers per 100 ms from the freeze to 2 s after the thaw: how many,
/// how many 200, the slowest, and which statuses.
fn timeline(exchanges: &[Exchange], frozen: Duration, thawed: Duration) {
    let step = Duration::from_millis(100);
    let mut from = frozen;
    while from < thawed + Duration::from_secs(2) {
        let inside: Vec<&Exchange> = exchanges
            .iter()
            .filter(|e| e.end >= from && e.end < from + step)
            .collect();
        let ok = inside.iter().filter(|e| e.status == 200).count();
        let worst = inside
            .iter()
            .map(|e| e.end - e.start)
            .max()
            .unwrap_or_default();
        let mut statuses: Vec<u16> = inside.iter().map(|e| e.status).collect();
        statuses.sort_unstable();
        statuses.dedup();
        let since_thaw = from.as_millis() as i64 - thawed.as_millis() as i64;
        println!(
            "{since_thaw:>6} ms from the thaw: {} answers, {ok} ok, slowest {}, statuses {statuses:?}",
            inside.len(),
            ms(worst)
        );
        from += step;
    }
}

fn report(exchanges: &[Exchange], sign_out: &SignOut, frozen: Duration, thawed: Duration) {
    let during = |e: &&Exchange| e.end > frozen && e.start < thawed;
    // Open: the first answer decided without Redis (a fast 503, or one in
    // degraded mode).
    let opened = exchanges
        .iter()
        .filter(during)
        .filter(|e| e.status == 503 || e.degraded)
        .map(|e| e.end)
        .min();
    let worst_frozen = exchanges
        .iter()
        .filter(during)
        .filter(|e| e.end <= thawed)
        .map(|e| e.end - e.start)
        .max()
        .unwrap_or_default();
    let mut once_open: Vec<Duration> = opened
        .map(|open| {
            exchanges
                .iter()
                .filter(|e| e.start >= open && e.end <= thawed)
                .map(|e| e.end - e.start)
                .collect()
        })
        .unwrap_or_default();
    once_open.sort();
    // Full service: from the thaw to the end of the last request of a
    // signed-in client refused or answered in degraded mode.
    let restored = exchanges
        .iter()
        .filter(|e| e.token == Token::Valid && (e.status != 200 || e.degraded) && e.end > thawed)
        .map(|e| e.end - thawed)
        .max()
        .unwrap_or_default();
    // While open, how many of the signed-in clients' requests degraded
    // mode answered.
    let valid_open: Vec<&Exchange> = opened
        .map(|open| {
            exchanges
                .iter()
                .filter(|e| e.token == Token::Valid && e.start >= open && e.end <= thawed)
                .collect()
        })
        .unwrap_or_default();
    let answered_degraded = valid_open
        .iter()
        .filter(|e| e.status == 200 && e.degraded)
        .count();
    // A token signed out before the freeze, or after its sign-out was
    // answered, must never be let through again.
    let false_allows = exchanges
        .iter()
        .filter(|e| e.status == 200)
        .filter(|e| match e.token {
            Token::Valid => false,
            Token::Revoked => true,
            Token::SigningOut => e.start >= sign_out.end,
        })
        .count();
    let hung = exchanges.iter().filter(|e| e.status == 0).count();
    let answered_503 = exchanges.iter().filter(|e| e.status == 503).count();
    let degraded = exchanges.iter().filter(|e| e.degraded).count();
    let verdict = |ok: bool| if ok { "✓" } else { "missed" }.to_owned();
    let open_ms = opened.map(|open| open - frozen);
    let p99 = percentile(&once_open, 99.0);
    table(
        &format!(
            "Redis frozen (SIGSTOP) for 3 s under load: {CLIENTS} keep-alive clients on \
             POST /api/v1/auth/me, {REVOKED_CLIENTS} of them signed out before the freeze and \
             {SIGNING_OUT_CLIENTS} during it; {} requests, {degraded} answered in degraded mode, \
             {answered_503} answered 503, {hung} without an answer in {CLIENT_TIMEOUT:?}",
            exchanges.len()
        ),
        &["measure", "measured", "target", ""],
        &[
            vec![
                "freeze → breaker open (first answer without Redis)".to_owned(),
                open_ms.map_or_else(|| "never".to_owned(), ms),
                "-".to_owned(),
                String::new(),
            ],
            vec![
                "worst request latency while frozen".to_owned(),
                ms(worst_frozen),
                "≤ 650 ms".to_owned(),
                verdict(worst_frozen <= Duration::from_millis(650)),
            ],
            vec![
                format!("p99 once open ({} requests)", once_open.len()),
                ms(p99),
                "≤ 20 ms".to_owned(),
                verdict(opened.is_some() && p99 <= Duration::from_millis(20)),
            ],
            vec![
                "signed-in requests answered while open (degraded mode)".to_owned(),
                format!("{answered_degraded} of {}", valid_open.len()),
                "all".to_owned(),
                verdict(!valid_open.is_empty() && answered_degraded == valid_open.len()),
            ],
            vec![
                "thaw → full service".to_owned(),
                ms(restored),
                "≤ 2 s".to_owned(),
                verdict(restored <= Duration::from_secs(2)),
            ],
            vec![
                "a sign-out while frozen (journaled)".to_owned(),
                format!("{} in {}", sign_out.status, ms(sign_out.took)),
                "200 ≤ 20 ms".to_owned(),
                verdict(sign_out.status == 200 && sign_out.took <= Duration::from_millis(20)),
            ],
            vec![
                "false allows (a signed-out token answered 200)".to_owned(),
                false_allows.to_string(),
                "0".to_owned(),
                verdict(false_allows == 0),
            ],
        ],
    );
}

/// One keep-alive client: requests in a loop until `stop`.
async fn client(
    port: u16,
    token: String,
    kind: Token,
    origin: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<Exchange> {
    let request = format!(
        "POST /api/v1/auth/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let mut exchanges = Vec::new();
    let mut stream = None;
    while !stop.load(Ordering::Relaxed) {
        let start = origin.elapsed();
        let (status, degraded) =
            match tokio::time::timeout(CLIENT_TIMEOUT, send(&mut stream, port, &request)).await {
                Ok(Some(answer)) => answer,
                _ => {
                    stream = None;
                    (0, false)
                }
            };
        exchanges.push(Exchange {
            start,
            end: origin.elapsed(),
            status,
            degraded,
            token: kind,
        });
    }
    exchanges
}

/// One exchange on the client's connection (opened when there is none);
/// the status and whether it was degraded, or `None` when the connection
/// failed.
async fn send(stream: &mut Option<TcpStream>, port: u16, request: &str) -> Option<(u16, bool)> {
    if stream.is_none() {
        *stream = Some(TcpStream::connect(("127.0.0.1", port)).await.ok()?);
    }
    let conn = stream.as_mut()?;
    if conn.write_all(request.as_bytes()).await.is_err() {
        *stream = None;
        return None;
    }
    let answer = read_response(conn).await;
    if answer.is_none() {
        *stream = None;
    }
    answer
}

/// Reads one response (head and `Content-Length` body); its status, and
/// whether it carries `X-Gatehouse-Degraded: 1`.
async fn read_response(conn: &mut TcpStream) -> Option<(u16, bool)> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
    let status = head.get(9..12)?.parse().ok()?;
    let degraded = head.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("x-gatehouse-degraded") && value.trim() == "1"
        })
    });
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Some((status, degraded))
}
