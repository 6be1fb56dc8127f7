//! The `gatehouse` binary as an operator runs it: with no Redis configured
//! it starts its own, keeps data across restarts, and leaves no process
//! behind however it is stopped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gatehouse::testing::wait_until_blocking;
use serde_json::Value;

/// A running `gatehouse` process and what it logged at startup.
struct Gatehouse {
    child: Child,
    redis_url: String,
    redis_pid: u32,
    http_addr: String,
    /// The `--metrics-addr` listener, when there is one.
    metrics_addr: Option<String>,
}

/// A test that fails half-way must not leave its processes behind: they
/// hold the test's stderr open, and `make test` waits for it to close.
impl Drop for Gatehouse {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            // Best effort while failing: no assertion here, a kill after 10 s.
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let redis = std::fs::read_to_string(format!("/proc/{}/cmdline", self.redis_pid));
        if alive(self.redis_pid) && redis.is_ok_and(|cmdline| cmdline.starts_with("redis-server")) {
            let _ = Command::new("kill")
                .args(["-KILL", &self.redis_pid.to_string()])
                .status();
        }
    }
}

fn start(data_dir: &Path) -> Gatehouse {
    start_with(data_dir, &[])
}

/// The binary with the embedded Redis in `data_dir`, logging JSON to a
/// pipe, plus `extra` flags.
fn spawn(data_dir: &Path, extra: &[&str]) -> (Child, std::process::ChildStdout) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .env_remove("GATEHOUSE_REDIS_URL")
        .env_remove("GATEHOUSE_REDIS_CLUSTER_NODES")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    (child, stdout)
}

fn start_with(data_dir: &Path, extra: &[&str]) -> Gatehouse {
    let (child, stdout) = spawn(data_dir, extra);
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining after startup so the child never hits a closed pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let (mut redis_url, mut redis_pid, mut http_addr) = (None, None, None);
    let mut metrics_addr = None;
    while http_addr.is_none() {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("gatehouse did not log 'listening' within 30 s");
        let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let message = event["message"].as_str().unwrap_or_default();
        if message.starts_with("started the embedded Redis") {
            redis_url = event["redis"].as_str().map(str::to_owned);
            redis_pid = event["pid"].as_u64().map(|p| p as u32);
        }
        if let Some(addr) = message
            .strip_prefix("metrics on http://")
            .and_then(|rest| rest.strip_suffix("/metrics"))
        {
            metrics_addr = Some(addr.to_owned());
        }
        if let Some(addr) = message.strip_prefix("listening on http://") {
            http_addr = Some(addr.to_owned());
        }
    }
    // The log never shows the password; the data directory has it.
    let logged = redis_url.expect("embedded Redis URL logged");
    assert!(logged.starts_with("redis://***@127.0.0.1:"), "{logged}");
    let password = std::fs::read_to_string(data_dir.join("redis-password")).unwrap();
    Gatehouse {
        child,
        redis_url: logged.replacen("***", &format!(":{}", password.trim()), 1),
        redis_pid: redis_pid.expect("embedded Redis pid logged"),
        http_addr: http_addr.unwrap(),
        metrics_addr,
    }
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let mut status = None;
    wait_until_blocking("the process exits", within, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}

fn wait_gone(pid: u32, within: Duration) {
    wait_until_blocking(&format!("process {pid} is gone"), within, || !alive(pid));
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}

/// A bare HTTP/1.1 GET; returns the status code.
fn http_status(addr: &str, path: &str) -> u16 {
    http_get(addr, path).0
}

/// A bare HTTP/1.1 GET; returns the status code and the whole response.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response)
}

/// `--metrics-addr`: Prometheus scrapes a listener of its own without a
/// token, which serves nothing else; the main listener keeps asking for one.
#[test]
fn metrics_can_have_a_listener_of_their_own() {
    let data = tempfile::tempdir().unwrap();
    let mut gatehouse = start_with(data.path(), &["--metrics-addr", "127.0.0.1:0"]);
    let metrics = gatehouse
        .metrics_addr
        .clone()
        .expect("the metrics listener is logged");
    assert_ne!(metrics, gatehouse.http_addr);
    let (status, response) = http_get(&metrics, "/metrics");
    assert_eq!(status, 200, "{response}");
    assert!(response.contains("gatehouse_build_info"), "{response}");
    assert!(response.contains("text/plain"), "{response}");
    assert_eq!(http_status(&metrics, "/api/v1/auth/me"), 404);
    assert_eq!(http_status(&metrics, "/health"), 404);
    assert_eq!(http_status(&gatehouse.http_addr, "/metrics"), 401);
    signal(gatehouse.child.id(), "-TERM");
    assert!(wait_exit(&mut gatehouse.child, Duration::from_secs(20)).success());
}

/// Waits for `/ready` to say 200: once Redis answers and the first-run
/// admin exists (it is created in the background at startup).
fn wait_ready(addr: &str) {
    wait_until_blocking(
        "/ready says 200",
        Duration::from_secs(20),
        || match http_status(addr, "/ready") {
            200 => true,
            503 => false,
            status => panic!("/ready answered {status}"),
        },
    );
}

fn redis(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

#[test]
fn embedded_redis_persists_across_restarts_and_leaves_no_orphans() {
    let data = tempfile::tempdir().unwrap();

    // First run: write a key through the embedded Redis, stop with SIGTERM.
    let mut first = start(data.path());
    wait_ready(&first.http_addr);
    redis::cmd("SET")
        .arg("gh:test:persisted")
        .arg("yes")
        .exec(&mut redis(&first.redis_url))
        .unwrap();
    signal(first.child.id(), "-TERM");
    let status = wait_exit(&mut first.child, Duration::from_secs(20));
    assert!(status.success(), "gatehouse exited with {status}");
    wait_gone(first.redis_pid, Duration::from_secs(5));

    // Second run: the key is still there.
    let mut second = start(data.path());
    let value: String = redis::cmd("GET")
        .arg("gh:test:persisted")
        .query(&mut redis(&second.redis_url))
        .unwrap();
    assert_eq!(value, "yes");

    // A crash (SIGKILL, no chance to clean up) still takes Redis down with it.
    signal(second.child.id(), "-KILL");
    wait_exit(&mut second.child, Duration::from_secs(5));
    wait_gone(second.redis_pid, Duration::from_secs(10));
}

/// The embedded Redis holds password hashes (and possibly the signing
/// secret): no other local user may read its files or use it.
#[test]
fn the_embedded_redis_is_private_to_gatehouse() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let mut gatehouse = start(data.path());
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(data.path()), 0o700, "the data directory is private");
    assert_eq!(mode(&data.path().join("redis-password")), 0o600);
    assert_eq!(
        mode(&data.path().join("redis.log")),
        0o600,
        "Redis creates its files private"
    );

    // Without the password, Redis refuses every command.
    let address = gatehouse.redis_url.rsplit('@').next().unwrap().to_owned();
    let refused = redis::cmd("GET")
        .arg("gh:jwt:default-secret")
        .query::<Option<String>>(&mut redis(&format!("redis://{address}")));
    let err = refused.expect_err("an unauthenticated GET must fail");
    assert!(err.to_string().contains("NOAUTH"), "{err}");
    // With it, it answers; and the password is not on Redis's command line.
    let _: Option<String> = redis::cmd("GET")
        .arg("gh:jwt:default-secret")
        .query(&mut redis(&gatehouse.redis_url))
        .unwrap();
    let password = std::fs::read_to_string(data.path().join("redis-password")).unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", gatehouse.redis_pid)).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(password.trim()));

    signal(gatehouse.child.id(), "-TERM");
    wait_exit(&mut gatehouse.child, Duration::from_secs(20));
    wait_gone(gatehouse.redis_pid, Duration::from_secs(5));
}

/// Sends `head` and `body` on a fresh connection; returns the whole
/// response (the server closes the connection after it).
fn exchange(addr: &str, head: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{head}Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// SIGTERM: a request in flight finishes, an open console is told to
/// reconnect, the events of the last requests reach Redis, and the
/// process exits within the drain limit.
#[test]
fn shutdown_finishes_requests_tells_consoles_to_reconnect_and_keeps_events() {
    use std::io::{Read, Write};
    let data = tempfile::tempdir().unwrap();
    let password_file = data.path().join("admin-password");
    std::fs::write(&password_file, "shutdown admin password").unwrap();
    let password_file = password_file.display().to_string();
    let args = [
        "--admin-user",
        "root",
        "--admin-password-file",
        &password_file,
        "--shutdown-timeout",
        "5s",
    ];
    let mut gatehouse = start_with(data.path(), &args);
    let addr = gatehouse.http_addr.clone();
    let login = r#"{"username":"root","password":"shutdown admin password"}"#;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n"
    );
    // The admin is created in the background at startup.
    let mut token = String::new();
    wait_until_blocking("the admin signs in", Duration::from_secs(10), || {
        let response = exchange(&addr, &head, login);
        if let Some(body) = response.split("\r\n\r\n").nth(1)
            && let Ok(json) = serde_json::from_str::<Value>(body)
            && let Some(access) = json["access_token"].as_str()
        {
            access.clone_into(&mut token);
            return true;
        }
        false
    });

    let mut console = std::net::TcpStream::connect(&addr).unwrap();
    write!(console, "GET /api/v1/admin/events/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n").unwrap();
    console
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut first = [0u8; 64];
    let n = console.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));

    // A wrong password, half sent when the signal arrives.
    let wrong = r#"{"username":"root","password":"a wrong password at shutdown"}"#;
    let mut in_flight = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        in_flight,
        "{head}Connection: close\r\nContent-Length: {}\r\n\r\n{}",
        wrong.len(),
        &wrong[..10]
    )
    .unwrap();
    // The scenario, in time: the half request reaches the server, then the
    // signal, then (once shutdown has begun) the rest of the request.
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    signal(gatehouse.child.id(), "-TERM");
    std::thread::sleep(Duration::from_millis(300));
    in_flight.write_all(&wrong.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    in_flight.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 401"),
        "the request in flight was not finished: {response}"
    );

    let mut rest = String::new();
    let _ = console.read_to_string(&mut rest);
    assert!(rest.contains("retry: 1000"), "no reconnect hint: {rest}");

    let status = wait_exit(&mut gatehouse.child, Duration::from_secs(8));
    assert!(status.success(), "gatehouse exited with {status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(6),
        "{:?}",
        signalled.elapsed()
    );
    wait_gone(gatehouse.redis_pid, Duration::from_secs(5));

    // The failed sign-in of the last request was written before Redis stopped.
    let mut again = start(data.path());
    let events: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("gh:events")
        .arg("-")
        .arg("+")
        .query(&mut redis(&again.redis_url))
        .unwrap();
    assert!(
        events
            .iter()
            .any(|(_, fields)| fields.iter().any(|(_, json)| json.contains("login_failed"))),
        "the last request's event was lost"
    );
    signal(again.child.id(), "-TERM");
    wait_exit(&mut again.child, Duration::from_secs(20));
    wait_gone(again.redis_pid, Duration::from_secs(5));
}

/// An error during start-up found after the embedded Redis started (here
/// the `--metrics-addr` port is taken) stops that Redis cleanly, through
/// its shutdown, before the process exits; nothing is left to be killed.
#[test]
fn a_start_up_error_stops_the_embedded_redis_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let (mut child, stdout) = spawn(data.path(), &["--metrics-addr", &port]);
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .map(|line| serde_json::from_str::<Value>(&line).unwrap_or(Value::Null))
            .collect::<Vec<_>>()
    });
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert!(!status.success(), "start-up should have failed");
    let log = reader.join().unwrap();
    let logged = |message: &str| {
        log.iter().find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message))
        })
    };
    let pid = logged("started the embedded Redis").expect("the embedded Redis started")["pid"]
        .as_u64()
        .unwrap();
    let stopped = logged("embedded Redis stopped").expect("the embedded Redis was shut down");
    assert_eq!(stopped["pid"].as_u64(), Some(pid));
    let error = logged("gatehouse cannot start").expect("the cause is logged");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("--metrics-addr"),
        "{error}"
    );
    wait_gone(u32::try_from(pid).unwrap(), Duration::from_secs(5));
}

#[test]
fn missing_redis_server_binary_is_explained() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--redis-server-bin",
            "/nonexistent/redis-server",
        ])
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("GATEHOUSE_REDIS_URL")
        .env_remove("GATEHOUSE_REDIS_CLUSTER_NODES")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(log.contains("apt-get install redis-server"), "{log}");
    assert!(log.contains("--redis-url"), "{log}");
}

#[test]
fn help_lists_every_option_with_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "--help failed: {output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    // Every option the configuration defines, read from clap itself, so a
    // new option without an environment variable (or missing from --help)
    // fails here.
    let command = <gatehouse_server::config::Config as clap::CommandFactory>::command();
    let mut checked = 0;
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else {
            continue;
        };
        if matches!(long, "help" | "version") {
            continue;
        }
        assert!(
            help.contains(&format!("--{long}")),
            "--help does not list --{long}"
        );
        let variable = arg
            .get_env()
            .unwrap_or_else(|| panic!("--{long} has no environment variable"));
        let variable = variable.to_string_lossy();
        assert!(variable.starts_with("GATEHOUSE_"), "--{long}: {variable}");
        assert!(
            help.contains(variable.as_ref()),
            "--help does not mention {variable}:\n{help}"
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} options found");
}
