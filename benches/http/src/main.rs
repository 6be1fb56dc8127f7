//! The HTTP benchmark (`make bench`): a release Gatehouse against a
//! reference server on the same machine, in the same run.
//!
//! It starts a private Redis, the release `gatehouse` binary
//! (`GATEHOUSE_BIN`) and a reference server: a minimal axum app, this
//! binary started again in its own process, whose one route answers with
//! one Redis `PING` through a redis-rs `ConnectionManager`. Each endpoint
//! is loaded with `wrk` at 64 connections and at 1, three times; the
//! table gives the median run: req/s, p50, p99, the ratio to the PING
//! endpoint, and CPU time per request of the server process and of
//! redis-server (from `/proc/<pid>/stat`). The machine is shared and
//! noisy, so the ratios are what to read, not absolute numbers.
//!
//! Rate limits keep the default policies (same algorithms, same number of
//! windows per request) with limits high enough that no request is
//! refused: the benchmark measures admitted requests.
//!
//! Last, Redis is frozen under load (see `freeze`): how fast the circuit
//! breaker opens, how fast requests are answered while it is open, and
//! how soon service returns after the thaw.
//!
//! `BENCH_SMOKE=1` runs everything once for one second (`make test` does,
//! so the benchmark cannot rot). Run it with `cargo run --release -p
//! gatehouse-http-bench` (`make bench` does, after `make build`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse::testing::TestRedis;
use support::table;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod freeze;
#[path = "../../support/mod.rs"]
mod support;

const REFERENCE_ENV: &str = "GH_BENCH_REFERENCE";
const PASSWORD: &str = "benchmark password";
/// The default policies, with limits no benchmark reaches.
const POLICIES: &str = "name=ip,key=ip,algorithm=sliding-counter,limit=1000000000,window=1m,routes=*;\
name=api-user,key=user,algorithm=sliding-counter,limit=1000000000,window=1m,routes=/api/*;\
name=api-burst,key=user,algorithm=gcra,limit=1000000000,window=1m,burst=1000000000,routes=/api/*;\
name=verify,key=user,algorithm=gcra,limit=1000000000,window=1m,burst=1000000000,routes=/api/v1/auth/verify;\
name=login-ip,key=ip,limit=1000000000,window=1m,routes=/api/v1/auth/login;\
name=login-lockout,key=ip+username,limit=1000000000,window=1m";

fn main() {
    if let Ok(spec) = std::env::var(REFERENCE_ENV) {
        reference_server(&spec);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// The reference: `GET /ping` → one Redis PING → `PONG`.
fn reference_server(spec: &str) {
    let (addr, redis_url) = spec.split_once(' ').unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = redis::Client::open(redis_url).unwrap();
        let manager = redis::aio::ConnectionManager::new(client).await.unwrap();
        let app = axum::Router::new().route(
            "/ping",
            axum::routing::get(move || {
                let mut conn = manager.clone();
                async move {
                    let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
                    pong
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

struct Processes {
    gatehouse: Child,
    reference: Child,
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in [&mut self.gatehouse, &mut self.reference] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn run() {
    let smoke = std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1");
    let (runs, seconds) = if smoke { (1, 1) } else { (3, 4) };
    let binary = std::env::var("GATEHOUSE_BIN").expect(
        "set GATEHOUSE_BIN to the release gatehouse binary (make bench does, after building it)",
    );
    assert!(
        Command::new("wrk").arg("--version").output().is_ok(),
        "wrk is not installed (apt-get install wrk; make bench installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    // The tests' throwaway Redis (one harness for tests and benchmarks).
    let redis = TestRedis::start().await;
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, PASSWORD).unwrap();

    let gatehouse_port = free_port();
    let reference_port = free_port();
    let site_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/site");
    let gatehouse = Command::new(&binary)
        .args(["--addr", &format!("127.0.0.1:{gatehouse_port}")])
        .args(["--redis-url", &redis.url()])
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--admin-user", "bench"])
        .arg("--admin-password-file")
        .arg(&password_file)
        .args(["--log-format", "json"])
        .arg("--site-root")
        .arg(&site_root)
        .env("GATEHOUSE_RATE_LIMITS", POLICIES)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the gatehouse binary");
    let reference = Command::new(std::env::current_exe().unwrap())
        .env(
            REFERENCE_ENV,
            format!("127.0.0.1:{reference_port} {}", redis.url()),
        )
        .spawn()
        .unwrap();
    let processes = Processes {
        gatehouse,
        reference,
    };
    wait_listening(gatehouse_port).await;
    wait_listening(reference_port).await;
    wait_ok(gatehouse_port, "/ready").await;

    let token = sign_in(gatehouse_port).await;

    let reference_url = format!("http://127.0.0.1:{reference_port}");
    let gatehouse_url = format!("http://127.0.0.1:{gatehouse_port}");
    let bearer = format!("Authorization: Bearer {token}");
    let cookie = format!("Cookie: gh_access={token}");
    // (name, URL, header, method, key in the allocation test's table)
    let endpoints: Vec<(&str, String, Option<&str>, &str, &str)> = vec![
        (
            "PING reference",
            format!("{reference_url}/ping"),
            None,
            "GET",
            "",
        ),
        (
            "/health",
            format!("{gatehouse_url}/health"),
            None,
            "GET",
            "health",
        ),
        (
            "GET /api/v1/auth/verify (bearer)",
            format!("{gatehouse_url}/api/v1/auth/verify"),
            Some(bearer.as_str()),
            "GET",
            "verify",
        ),
        (
            "POST /api/v1/auth/me (bearer)",
            format!("{gatehouse_url}/api/v1/auth/me"),
            Some(bearer.as_str()),
            "POST",
            "me",
        ),
        (
            "GET /account (cookie, page)",
            format!("{gatehouse_url}/account"),
            Some(cookie.as_str()),
            "GET",
            "page",
        ),
    ];
    let allocations = allocations();
    let pids = Pids {
        gatehouse: processes.gatehouse.id(),
        reference: processes.reference.id(),
        redis: redis.pid().expect("the benchmark's Redis is running"),
    };
    println!("{}", machine());
    for connections in [64, 1] {
        let mut rows = Vec::new();
        let mut reference_rps = 0.0;
        for (name, url, header, method, key) in &endpoints {
            let pid = if name.starts_with("PING") {
                pids.reference
            } else {
                pids.gatehouse
            };
            let mut samples: Vec<Sample> = (0..runs)
                .map(|_| {
                    load(
                        url,
                        *header,
                        method,
                        connections,
                        seconds,
                        pid,
                        pids.redis,
                        dir.path(),
                    )
                })
                .collect();
            samples.sort_by(|a, b| a.rps.total_cmp(&b.rps));
            let median = samples.swap_remove(samples.len() / 2);
            if name.starts_with("PING") {
                reference_rps = median.rps;
            }
            rows.push(vec![
                (*name).to_owned(),
                format!("{:.0}", median.rps),
                median.p50.clone(),
                median.p99.clone(),
                format!("{:.2}", median.rps / reference_rps.max(1.0)),
                format!("{:.1}", median.server_us),
                format!("{:.1}", median.redis_us),
                allocations
                    .iter()
                    .find(|(k, _)| k == key)
                    .map_or_else(|| "-".to_owned(), |(_, n)| n.clone()),
            ]);
        }
        table(
            &format!(
                "HTTP, {connections} connection(s), wrk -t{} -d{seconds}s, median of {runs}",
                connections.min(2)
            ),
            &[
                "endpoint",
                "req/s",
                "p50",
                "p99",
                "× PING",
                "server CPU µs/req",
                "redis CPU µs/req",
                "allocations/req",
            ],
            &rows,
        );
    }
    storm(gatehouse_port, &gatehouse_url, seconds, dir.path()).await;
    // Fresh sessions: the storm's sign-ins have evicted the oldest ones.
    let signed_in = sign_in(gatehouse_port).await;
    let signed_out = sign_in(gatehouse_port).await;
    let signing_out = sign_in(gatehouse_port).await;
    let logout = raw(
        gatehouse_port,
        &format!(
            "POST /api/v1/auth/logout HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {signed_out}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(
        logout.starts_with("HTTP/1.1 200"),
        "sign-out failed: {logout}"
    );
    let tokens = freeze::Tokens {
        valid: &signed_in,
        revoked: &signed_out,
        signing_out: &signing_out,
    };
    freeze::run(gatehouse_port, tokens, &redis).await;
    drop(processes);
    drop(redis);
}

/// Signs the benchmark's admin in (created in the background at start-up,
/// so it is retried for a while); the access token.
async fn sign_in(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let login = raw(
            port,
            &format!(
                "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                login_body().len(),
                login_body()
            ),
        )
        .await;
        if let Some(token) = login
            .split("\"access_token\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        {
            return token.to_owned();
        }
        assert!(Instant::now() < deadline, "sign-in failed: {login}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Allocations per request, as the allocation test measured them (`make
/// bench` runs it first and names its table in `GATEHOUSE_ALLOCATIONS`).
fn allocations() -> Vec<(String, String)> {
    std::env::var("GATEHOUSE_ALLOCATIONS")
        .ok()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(key, n)| (key.to_owned(), n.to_owned()))
        .collect()
}

fn login_body() -> String {
    format!("{{\"username\":\"bench\",\"password\":\"{PASSWORD}\"}}")
}

struct Pids {
    gatehouse: u32,
    reference: u32,
    redis: u32,
}

struct Sample {
    rps: f64,
    p50: String,
    p99: String,
    server_us: f64,
    redis_us: f64,
}

/// One wrk run, with the CPU the server and Redis spent meanwhile.
#[allow(clippy::too_many_arguments)]
fn load(
    url: &str,
    header: Option<&str>,
    method: &str,
    connections: u32,
    seconds: u32,
    server_pid: u32,
    redis_pid: u32,
    dir: &std::path::Path,
) -> Sample {
    let script = dir.join(format!("{method}.lua"));
    std::fs::File::create(&script)
        .unwrap()
        .write_all(format!("wrk.method = \"{method}\"\n").as_bytes())
        .unwrap();
    let mut wrk = Command::new("wrk");
    wrk.arg(format!("-t{}", connections.min(2)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        .arg("-s")
        .arg(&script);
    if let Some(header) = header {
        wrk.args(["-H", header]);
    }
    let (server_before, redis_before) = (cpu_ticks(server_pid), cpu_ticks(redis_pid));
    let output = wrk.arg(url).output().expect("run wrk");
    let (server_after, redis_after) = (cpu_ticks(server_pid), cpu_ticks(redis_pid));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let rps: f64 = field(&text, "Requests/sec:").parse().unwrap_or(0.0);
    let requests: f64 = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    assert!(
        !text.contains("Non-2xx"),
        "{url} answered errors under load:\n{text}"
    );
    // /proc reports CPU time in USER_HZ ticks, 100 per second on Linux.
    let per_request = |ticks: u64| ticks as f64 * 10_000.0 / requests.max(1.0);
    Sample {
        rps,
        p50: field(&text, "50%").to_owned(),
        p99: field(&text, "99%").to_owned(),
        server_us: per_request(server_after - server_before),
        redis_us: per_request(redis_after - redis_before),
    }
}

/// `/health` p99 alone and while 50 sign-ins run at once, repeatedly.
async fn storm(port: u16, url: &str, seconds: u32, dir: &std::path::Path) {
    let health = format!("{url}/health");
    let idle = load(
        &health,
        None,
        "GET",
        4,
        seconds,
        std::process::id(),
        std::process::id(),
        dir,
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = login_body();
                let answer = raw(
                    port,
                    &format!(
                        "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                )
                .await;
                // Only real sign-ins (Argon2 work) count; a refusal is not load.
                if answer.starts_with("HTTP/1.1 200") {
                    done += 1;
                }
            }
            done
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health2 = health.clone();
    let dir2 = dir.to_owned();
    let during = tokio::task::spawn_blocking(move || {
        load(
            &health2,
            None,
            "GET",
            4,
            seconds,
            std::process::id(),
            std::process::id(),
            &dir2,
        )
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sign_ins = 0;
    for task in tasks {
        sign_ins += task.await.unwrap();
    }
    table(
        "/health p99 during an Argon2id sign-in storm (50 concurrent sign-ins)",
        &["", "/health p50", "/health p99", "sign-ins completed"],
        &[
            vec!["idle".into(), idle.p50, idle.p99, "0".into()],
            vec!["storm".into(), during.p50, during.p99, sign_ins.to_string()],
        ],
    );
}

/// The first value after `label` in wrk's output.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("-")
}

/// utime + stime of a process, in ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat; 12 and 13 after the name and state.
    let number = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    number(11) + number(12)
}

/// One raw HTTP/1.1 exchange; the whole response as text.
async fn raw(port: u16, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_ok(port: u16, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = raw(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        )
        .await;
        if response.starts_with("HTTP/1.1 200") {
            return;
        }
        assert!(Instant::now() < deadline, "{path} never answered 200");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    format!("\n## HTTP benchmark\n\n{cores} cores; wrk from the distribution; release build.")
}
