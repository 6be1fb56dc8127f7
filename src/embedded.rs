//! A private `redis-server` child process.
//!
//! Gatehouse runs against an operator's Redis in production, but a single
//! binary that "just works" needs a Redis of its own: when none is
//! configured, the server starts one here. The test helpers use the same
//! code, so the process handling that production relies on is what every
//! test exercises.
//!
//! Invariants:
//! - the child listens on loopback only, on a port nobody else holds;
//! - with a password (as the server's embedded Redis always has: it holds
//!   password hashes and possibly the signing secret), no other local user
//!   can read or use it: the password is in a 0600 config file, never on
//!   the command line (which any user can read in `/proc`), the directory
//!   is 0700 and the child creates its files 0600;
//! - it never outlives us: it is shut down cleanly by [`RedisServer::shutdown`],
//!   killed on drop, and the kernel sends it SIGTERM if we die abruptly
//!   (`PR_SET_PDEATHSIG`), so no orphan is left behind.

use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh `redis-server` gets to answer PING (loading a large
/// append-only file can take a while).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a clean shutdown may take before the child is killed.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at finding a free port, for the rare race where another process
/// takes the port between our probe and Redis binding it.
const PORT_ATTEMPTS: usize = 5;

/// How to run the child.
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// The `redis-server` binary (looked up on `PATH` when relative).
    pub binary: PathBuf,
    /// Working directory: the log and, when persistent, the data live here.
    pub dir: PathBuf,
    /// Keep an append-only file so data survives restarts.
    pub persistent: bool,
    /// A fixed port; `None` picks a free one.
    pub port: Option<u16>,
    /// More `redis-server` arguments (e.g. `--cluster-enabled yes`).
    pub extra_args: Vec<String>,
    /// A configuration file, passed first (needed by `--sentinel`).
    pub config_file: Option<PathBuf>,
    /// Require this password (`requirepass`, set through a private config
    /// file, or appended to `config_file` when there is one); the URL
    /// carries it.
    pub password: Option<String>,
}

impl EmbeddedOptions {
    /// Options for a child in `dir`, on a free port.
    pub fn new(dir: impl Into<PathBuf>, persistent: bool) -> Self {
        Self {
            binary: PathBuf::from("redis-server"),
            dir: dir.into(),
            persistent,
            port: None,
            extra_args: Vec::new(),
            config_file: None,
            password: None,
        }
    }
}

/// The embedded Redis password kept in `dir` (`redis-password`, 0600),
/// created on first use: one per data directory, so a restart finds its
/// data behind the same password.
pub fn load_or_create_password(dir: &Path) -> Result<String, EmbeddedError> {
    private_dir(dir)?;
    match std::fs::read_to_string(dir.join("redis-password")) {
        Ok(password) if !password.trim().is_empty() => return Ok(password.trim().to_owned()),
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(EmbeddedError::Dir {
                dir: dir.to_owned(),
                source,
            });
        }
    }
    let password = crate::random::hex::<32>();
    write_private(dir, "redis-password", &password)?;
    Ok(password)
}

/// Creates `dir` if needed and makes it private to this user (0700).
fn private_dir(dir: &Path) -> Result<(), EmbeddedError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|source| EmbeddedError::Dir {
            dir: dir.to_owned(),
            source,
        })
}

/// Why the child could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "`{binary}` was not found. Install Redis (Debian/Ubuntu: `apt-get install redis-server`) \
         or point Gatehouse at an existing Redis with --redis-url / GATEHOUSE_REDIS_URL"
    )]
    BinaryMissing { binary: String },
    #[error("cannot prepare the embedded Redis directory {dir}: {source}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot start `{binary}`: {source}")]
    Spawn {
        binary: String,
        #[source]
        source: io::Error,
    },
    #[error("embedded Redis exited during startup ({status}); its log says:\n{log}")]
    Exited { status: String, log: String },
    #[error("embedded Redis did not answer PING within {0:?}; see its log in the data directory")]
    NotReady(Duration),
    #[error("cannot stop the embedded Redis: {0}")]
    Stop(#[source] io::Error),
}

/// A running `redis-server` child. Dropping it kills the process; call
/// [`RedisServer::shutdown`] for a clean stop that flushes the append-only file.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    password: Option<String>,
}

impl RedisServer {
    /// Starts `redis-server` and waits until it answers PING.
    pub async fn start(options: &EmbeddedOptions) -> Result<Self, EmbeddedError> {
        private_dir(&options.dir)?;
        let config = match (&options.password, &options.config_file) {
            (Some(password), Some(file)) => Some(add_password(file, password)?),
            (Some(password), None) => Some(write_private_config(&options.dir, password)?),
            (None, file) => file.clone(),
        };
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = match options.port {
                Some(port) => port,
                None => free_port().map_err(|source| EmbeddedError::Spawn {
                    binary: options.binary.display().to_string(),
                    source,
                })?,
            };
            let log_offset = log_len(&options.dir);
            let child = spawn(options, config.as_deref(), port)?;
            let mut server = RedisServer {
                child,
                port,
                dir: options.dir.clone(),
                password: options.password.clone(),
            };
            match server.wait_ready(log_offset).await {
                Ok(()) => return Ok(server),
                // A taken port shows up as an early exit; try another one
                // unless the caller insisted on this port.
                Err(err @ EmbeddedError::Exited { .. }) if options.port.is_none() => {
                    last_error = Some(err);
                }
                Err(err) => return Err(err),
            }
        }
        Err(last_error.unwrap_or(EmbeddedError::NotReady(READY_TIMEOUT)))
    }

    /// The TCP port the child listens on (loopback only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `redis://` URL for this server (with its password, if any: log
    /// it redacted).
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The directory holding the log and data.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the child cleanly: `SHUTDOWN` makes Redis flush its
    /// append-only file before exiting. Falls back to killing it.
    pub async fn shutdown(mut self) -> Result<(), EmbeddedError> {
        let url = self.url();
        if let Ok(client) = redis::Client::open(url.as_str())
            && let Ok(Ok(mut conn)) = tokio::time::timeout(
                Duration::from_secs(1),
                client.get_multiplexed_async_connection(),
            )
            .await
        {
            // SHUTDOWN never answers on success: the connection just closes.
            let _: Result<(), _> = tokio::time::timeout(
                Duration::from_secs(5),
                redis::cmd("SHUTDOWN").query_async::<()>(&mut conn),
            )
            .await
            .map(|_| ());
        }
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while Instant::now() < deadline {
            if self
                .child
                .try_wait()
                .map_err(EmbeddedError::Stop)?
                .is_some()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.child.kill().map_err(EmbeddedError::Stop)?;
        self.child.wait().map_err(EmbeddedError::Stop)?;
        Ok(())
    }

    async fn wait_ready(&mut self, log_offset: u64) -> Result<(), EmbeddedError> {
        let url = self.url();
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().map_err(EmbeddedError::Stop)? {
                return Err(EmbeddedError::Exited {
                    status: status.to_string(),
                    log: read_log_from(&self.dir, log_offset),
                });
            }
            if answers_as(&url, self.child.id()).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        // Do not leave a half-started child behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(EmbeddedError::NotReady(READY_TIMEOUT))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A config file (0600, in the private directory) that sets the password,
/// so that it never appears on the command line.
fn write_private_config(dir: &Path, password: &str) -> Result<PathBuf, EmbeddedError> {
    write_private(
        dir,
        "embedded-redis.conf",
        &format!("requirepass \"{password}\"\n"),
    )
}

/// Appends `requirepass` to the caller's configuration file (a sentinel
/// rewrites its file, so it must be that file) and makes it private.
fn add_password(file: &Path, password: &str) -> Result<PathBuf, EmbeddedError> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("redis.conf");
    let existing = std::fs::read_to_string(file).map_err(|source| EmbeddedError::Dir {
        dir: dir.to_owned(),
        source,
    })?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        EmbeddedError::Dir {
            dir: dir.to_owned(),
            source,
        }
    })?;
    write_private(
        dir,
        name,
        &format!("{existing}requirepass \"{password}\"\n"),
    )
}

/// Writes `contents` to `dir/name`, readable by this user only (0600).
fn write_private(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, EmbeddedError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .map_err(|source| EmbeddedError::Dir {
            dir: dir.to_owned(),
            source,
        })?;
    Ok(path)
}

fn spawn(
    options: &EmbeddedOptions,
    config: Option<&Path>,
    port: u16,
) -> Result<Child, EmbeddedError> {
    let binary = options.binary.display().to_string();
    let mut command = Command::new(&options.binary);
    if let Some(config) = config {
        command.arg(config);
    }
    command
        .current_dir(&options.dir)
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--protected-mode", "yes"])
        .args(["--daemonize", "no"])
        .args(["--logfile", "redis.log"])
        .arg("--dir")
        .arg(&options.dir)
        .args(["--save", ""])
        .args([
            "--appendonly",
            if options.persistent { "yes" } else { "no" },
        ])
        .args(&options.extra_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    die_with_parent(&mut command);
    command.spawn().map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            EmbeddedError::BinaryMissing { binary }
        } else {
            EmbeddedError::Spawn { binary, source }
        }
    })
}

/// Asks the kernel to send the child SIGTERM when the thread that started
/// it dies, so that a crashed or SIGKILLed Gatehouse leaves no orphan Redis.
/// SIGTERM (not SIGKILL) lets Redis flush its append-only file first.
/// Also gives the child a private umask, so its files are 0600.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only
    // makes the async-signal-safe `umask` and `prctl` system calls.
    unsafe {
        command.pre_exec(|| {
            // Files the child creates (append-only file, log) are 0600.
            libc::umask(0o077);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        });
    }
}

fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether the Redis at `url` is up and is our child `pid` (and not some
/// other server that already held the port).
async fn answers_as(url: &str, pid: u32) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    // `INFO` answers while Redis is still loading its append-only file;
    // commands do not (they fail with LOADING). Ready means: our process,
    // not loading (a sentinel has no persistence section at all).
    let attempt = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("INFO")
            .arg("server")
            .arg("persistence")
            .query_async::<String>(&mut conn)
            .await
    };
    let expected = format!("process_id:{pid}");
    matches!(
        tokio::time::timeout(Duration::from_millis(500), attempt).await,
        Ok(Ok(info))
            if info.lines().any(|line| line.trim() == expected)
                && !info.lines().any(|line| line.trim() == "loading:1")
    )
}

fn log_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("redis.log"))
        .map(|m| m.len())
        .unwrap_or(0)
}

fn read_log_from(dir: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(dir.join("redis.log")) {
        let _ = file.seek(SeekFrom::Start(offset));
        let _ = file.read_to_string(&mut text);
    }
    if text.trim().is_empty() {
        "(empty)".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests;
