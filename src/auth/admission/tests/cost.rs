//! What a protected request costs Redis: one function call, and no read
//! of the console's index per request.

use super::*;

/// A `MONITOR` connection: what clients (not scripts) send to Redis.
struct Monitor {
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::net::TcpStream>>,
    url: String,
}

impl Monitor {
    async fn start(url: &str) -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let address = url.trim_start_matches("redis://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(b"MONITOR\r\n").await.unwrap();
        let mut lines = tokio::io::BufReader::new(stream).lines();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "+OK");
        Self {
            lines,
            url: url.to_owned(),
        }
    }

    /// Lower-cased names of the commands clients sent since `start` (but
    /// the breaker's probes), up to a marker this sends now (so nothing is
    /// cut off by timing).
    async fn client_commands(&mut self) -> Vec<String> {
        let marker = "gh-monitor-marker";
        let mut conn = redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let _: String = redis::cmd("ECHO")
            .arg(marker)
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut commands = Vec::new();
        while let Some(line) = self.lines.next_line().await.unwrap() {
            if line.contains(marker) {
                return commands;
            }
            // `+<time> [<db> <client address>|lua] "<command>" ...`
            let Some((client, rest)) = line.split_once("] ") else {
                continue;
            };
            if client.ends_with("lua") {
                continue;
            }
            let name = rest.split('"').nth(1).unwrap_or_default().to_lowercase();
            // The store's circuit breaker probes Redis on its own schedule.
            if name != "ping" {
                commands.push(name);
            }
        }
        panic!("MONITOR ended before the marker");
    }
}

#[tokio::test]
async fn a_protected_request_costs_exactly_one_redis_command() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis.store().await, &[]).await;
    let login = signed_in(&auth, "olly", &[Role::User]).await;
    let client = client();
    let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
    // Warm up: the first call loads the functions.
    auth.admit(&facts(ME, &client, bearer)).await;

    let mut monitor = Monitor::start(&redis.url()).await;
    let before = crate::testing::command_calls(&redis.store().await).await;
    let admission = auth.admit(&facts(ME, &client, bearer)).await;
    let after = crate::testing::command_calls(&redis.store().await).await;
    // Every command a client sent (not a function), in order, from MONITOR:
    // the INFO before, the one function call, the INFO after; nothing else.
    let sent = monitor.client_commands().await;
    assert_eq!(sent, ["info", "fcall", "info"], "commands sent: {sent:?}");
    let delta = |name: &str| after.get(name).unwrap_or(&0) - before.get(name).unwrap_or(&0);
    assert_eq!(delta("fcall"), 1, "one function call");
    assert_eq!(
        delta("evalsha") + delta("eval") + delta("script|load") + delta("function|load"),
        0,
        "no script, and no (re)loading"
    );
    // Everything else that moved ran inside that one call (plus the INFO
    // that measured `before`).
    assert_eq!(delta("info"), 1);
    assert_eq!(principal(&admission).session_id, login.session_id);
    assert!(admission.refusal.is_none() && admission.renewal.is_none());
    let names: Vec<&str> = admission
        .limits
        .outcomes
        .iter()
        .map(|o| &*o.policy)
        .collect();
    assert_eq!(names, ["ip", "api-user", "api-burst"]);
}

#[tokio::test]
async fn a_busy_subject_is_listed_at_most_once_a_second_not_read_per_request() {
    let redis = TestRedis::start().await;
    let store = redis.store().await;
    let auth = auth(&store, &[]).await;
    let login = signed_in(&auth, "liz", &[Role::User]).await;
    let client = client();
    let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
    auth.admit(&facts(ME, &client, bearer)).await;

    let before = crate::testing::command_calls(&store).await;
    let started = std::time::Instant::now();
    for _ in 0..50 {
        assert!(
            auth.admit(&facts(ME, &client, bearer))
                .await
                .refusal
                .is_none()
        );
    }
    let seconds = started.elapsed().as_secs();
    let after = crate::testing::command_calls(&store).await;
    let delta = |name: &str| after.get(name).unwrap_or(&0) - before.get(name).unwrap_or(&0);
    assert_eq!(delta("fcall"), 50);
    assert_eq!(delta("zscore"), 0, "the index is not read per request");
    // Two subjects (the address and the user) re-listed, and the session's
    // idle timeout slid (in the user's session index), each at most once
    // per second: at most `seconds + 1` times each.
    assert!(
        delta("zadd") <= 3 * (seconds + 1),
        "{} index writes in {seconds} s",
        delta("zadd")
    );
    let (_, listed) = auth.limiter().active(0, 10).await.unwrap();
    assert_eq!(listed.len(), 2, "both subjects stay listed: {listed:?}");
}
