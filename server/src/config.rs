//! The one typed configuration of the `gatehouse` binary.
//!
//! Every option is a command-line flag with a `GATEHOUSE_*` environment
//! variable behind it, and a key of the configuration file (`--config`,
//! see `config_file`); `gatehouse --help` lists them all with their
//! defaults, and `gatehouse check-config` validates and prints them. Secrets are read from files named by options, never taken as
//! option values, so they do not show up in `ps` or shell history, and they
//! are never logged.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Gatehouse: sign-in, sessions, locks and rate limits on Redis, with a live console.
#[derive(Clone, Debug, Parser)]
#[command(name = "gatehouse", version, about, long_about = None)]
pub struct Config {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// A TOML configuration file (see gatehouse.example.toml). Flags and
    /// environment variables override what it says.
    #[arg(long, env = "GATEHOUSE_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Address to listen on.
    #[arg(long, env = "GATEHOUSE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Redis to use (`redis://[user:password@]host:port[/db]`,
    /// `redis+unix:///path`). When none of this, --redis-cluster-nodes and
    /// --redis-sentinels is set, Gatehouse starts a private `redis-server`
    /// of its own.
    #[arg(
        long,
        env = "GATEHOUSE_REDIS_URL",
        conflicts_with_all = ["redis_cluster_nodes", "redis_sentinels"],
        value_parser = parse_redis_url
    )]
    pub redis_url: Option<String>,

    /// Seed nodes of a Redis Cluster, comma-separated `redis://host:port` URLs.
    #[arg(
        long,
        env = "GATEHOUSE_REDIS_CLUSTER_NODES",
        value_delimiter = ',',
        conflicts_with = "redis_sentinels",
        value_parser = parse_redis_url
    )]
    pub redis_cluster_nodes: Vec<String>,

    /// Redis Sentinels, comma-separated, each `host:port` (port 26379 when
    /// left out) or a URL `redis[s]://[:password@]host:port`: Gatehouse
    /// asks them for the primary and follows failovers.
    #[arg(
        long,
        env = "GATEHOUSE_REDIS_SENTINELS",
        value_delimiter = ',',
        value_parser = parse_sentinel
    )]
    pub redis_sentinels: Vec<String>,

    /// The name the sentinels monitor the primary under.
    #[arg(
        long,
        env = "GATEHOUSE_REDIS_SENTINEL_MASTER",
        default_value = "mymaster"
    )]
    pub redis_sentinel_master: String,

    /// Credentials and database for the data nodes behind the sentinels,
    /// as a URL whose host is ignored: `redis://user:password@primary/0`.
    #[arg(
        long,
        env = "GATEHOUSE_REDIS_SENTINEL_NODE_URL",
        requires = "redis_sentinels",
        value_parser = parse_redis_url
    )]
    pub redis_sentinel_node_url: Option<String>,

    /// Longest wait for any one Redis command before it counts as failed.
    #[arg(long, env = "GATEHOUSE_REDIS_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub redis_timeout: Duration,

    /// Replicas that must confirm each session creation, revocation and
    /// refresh rotation (Redis `WAIT`) before Gatehouse answers, so that a
    /// failover cannot lose them. Default: 1 with --redis-sentinels, else 0.
    /// Not supported with --redis-cluster-nodes.
    #[arg(
        long,
        env = "GATEHOUSE_REDIS_WAIT_REPLICAS",
        conflicts_with = "redis_cluster_nodes"
    )]
    pub redis_wait_replicas: Option<u32>,

    /// PEM CA certificate that signed the Redis servers' and sentinels'
    /// certificates, for `rediss://` URLs (default: the system's roots).
    #[arg(long, env = "GATEHOUSE_REDIS_TLS_CA_FILE")]
    pub redis_tls_ca_file: Option<PathBuf>,

    /// PEM client certificate for Redis servers that require one
    /// (`tls-auth-clients yes`); with --redis-tls-key-file.
    #[arg(long, env = "GATEHOUSE_REDIS_TLS_CERT_FILE")]
    pub redis_tls_cert_file: Option<PathBuf>,

    /// The PEM key of --redis-tls-cert-file.
    #[arg(long, env = "GATEHOUSE_REDIS_TLS_KEY_FILE")]
    pub redis_tls_key_file: Option<PathBuf>,

    /// Longest wait for those replicas; on a short count the write stands
    /// (it is on the primary), and a warning and a metric say so.
    #[arg(long, env = "GATEHOUSE_REDIS_WAIT_TIMEOUT", default_value = "200ms", value_parser = parse_duration)]
    pub redis_wait_timeout: Duration,

    /// While a Redis circuit breaker is open, answer forward-auth, `me` and
    /// signed-in users' pages from the token and the revocation mirror for
    /// at most this long after Redis last answered (header
    /// `X-Gatehouse-Degraded: 1`); everything else answers 503. `0`: off,
    /// every request that needs Redis answers 503.
    #[arg(long, env = "GATEHOUSE_DEGRADED_MAX", default_value = "5m", value_parser = parse_duration)]
    pub degraded_max: Duration,

    /// How recently a user with a second factor must have proved it (at
    /// sign-in or by a step-up) to change factors, recovery codes or the
    /// password, or make any admin change; otherwise those answer 403
    /// `step_up_required`.
    #[arg(long, env = "GATEHOUSE_STEP_UP_MAX_AGE", default_value = "10m", value_parser = parse_duration)]
    pub step_up_max_age: Duration,

    /// Roles whose users must have a second factor (comma-separated;
    /// default none, `admin` recommended in production). Such a user
    /// without one gets a session that may only enrol one (403
    /// `mfa_enrollment_required` elsewhere; pages go to the account page).
    #[arg(long, env = "GATEHOUSE_MFA_REQUIRED_ROLES", value_delimiter = ',', value_parser = parse_role)]
    pub mfa_required_roles: Vec<gatehouse::api::Role>,

    /// A file of at least 32 bytes of secret that second factors (TOTP
    /// secrets, security keys and passkeys) are sealed with. Unset: a key
    /// derived from the token signing key, so that replacing the signing
    /// key makes every factor unreadable. Set it before anyone enrols a
    /// factor, and keep it.
    #[arg(long, env = "GATEHOUSE_MFA_KEY_FILE")]
    pub mfa_key_file: Option<PathBuf>,

    /// Where browsers reach Gatehouse (scheme, host and port), such as
    /// `https://auth.example.com`. Security keys and passkeys are bound to
    /// its host, which must be a name, not an IP address; changing it
    /// makes the registered ones unusable. Default:
    /// `http://localhost:<port of --addr>`.
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Directory for the embedded Redis's data (append-only file) and log,
    /// and for the journal of sign-outs made while Redis is away. Default: `$XDG_DATA_HOME/gatehouse`, else `~/.local/share/gatehouse`,
    /// else `./data`.
    #[arg(long, env = "GATEHOUSE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// The `redis-server` binary used for the embedded Redis.
    #[arg(
        long,
        env = "GATEHOUSE_REDIS_SERVER_BIN",
        default_value = "redis-server"
    )]
    pub redis_server_bin: PathBuf,

    /// This instance's id as other instances and the console see it.
    /// Default: `<hostname>-<random>`.
    #[arg(long, env = "GATEHOUSE_INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// Directory with the built site (the `pkg/` bundle and public files).
    #[arg(long, env = "GATEHOUSE_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Log format: `human` for people, `json` for log pipelines. The level
    /// filter comes from `RUST_LOG` (default `info`).
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Longest time a request may take before it is answered with 408.
    #[arg(long, env = "GATEHOUSE_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Also serve `/metrics` here, without authentication (for a scraper
    /// on a private network). On the main listener, `/metrics` needs a
    /// token with the `metrics` (or `admin`) role.
    #[arg(long, env = "GATEHOUSE_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// On SIGTERM or Ctrl-C, how long in-flight requests may take to
    /// finish before the remaining connections are closed.
    #[arg(long, env = "GATEHOUSE_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "GATEHOUSE_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub body_limit: usize,

    /// JWT key files, in order; repeat the flag or separate with commas.
    /// Each is a PKCS#8 Ed25519 or RSA private key PEM (signs: EdDSA or
    /// RS256, published at /.well-known/jwks.json), a public key PEM
    /// (verifies only: a retired key) or an HS256 secret of at least 32
    /// bytes. The last one that can sign signs. Unset: an HS256 secret
    /// generated once and shared through Redis.
    #[arg(
        long = "jwt-key-file",
        env = "GATEHOUSE_JWT_KEY_FILES",
        value_delimiter = ','
    )]
    pub jwt_key_files: Vec<PathBuf>,

    /// The `iss` claim of issued tokens, required on verified ones.
    #[arg(long, env = "GATEHOUSE_JWT_ISSUER", default_value = "gatehouse")]
    pub jwt_issuer: String,

    /// The `aud` claim of issued tokens, required on verified ones.
    #[arg(long, env = "GATEHOUSE_JWT_AUDIENCE", default_value = "gatehouse")]
    pub jwt_audience: String,

    /// Clock skew tolerated when checking `exp` and `nbf`.
    #[arg(long, env = "GATEHOUSE_JWT_LEEWAY", default_value = "5s", value_parser = parse_duration)]
    pub jwt_leeway: Duration,

    /// Lifetime of access tokens.
    #[arg(long, env = "GATEHOUSE_ACCESS_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_ttl: Duration,

    /// Lifetime of refresh tokens.
    #[arg(long, env = "GATEHOUSE_REFRESH_TTL", default_value = "7d", value_parser = parse_duration)]
    pub refresh_ttl: Duration,

    /// How long a replaced token keeps working after a refresh, and how
    /// long concurrent refreshes with it get the same new pair. A refresh
    /// token presented after this is reuse: its session is ended.
    #[arg(long, env = "GATEHOUSE_REFRESH_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub refresh_grace: Duration,

    /// Renew an access token during a request once less than this share
    /// of its lifetime is left (0 turns silent renewal off).
    #[arg(long, env = "GATEHOUSE_RENEW_WINDOW", default_value_t = 0.2)]
    pub renew_window: f64,

    /// TTL of the per-session refresh lock: how long a crashed instance
    /// can hold up refreshes of one session.
    #[arg(long, env = "GATEHOUSE_REFRESH_LOCK_TTL", default_value = "5s", value_parser = parse_duration)]
    pub refresh_lock_ttl: Duration,

    /// A session unused this long ends (each request slides it).
    #[arg(long, env = "GATEHOUSE_SESSION_IDLE_TIMEOUT", default_value = "30m", value_parser = parse_duration)]
    pub session_idle_timeout: Duration,

    /// A session ends this long after sign-in, however active.
    #[arg(long, env = "GATEHOUSE_SESSION_LIFETIME", default_value = "7d", value_parser = parse_duration)]
    pub session_lifetime: Duration,

    /// Most sessions per user; signing in beyond it ends the least
    /// recently used one.
    #[arg(long, env = "GATEHOUSE_MAX_SESSIONS_PER_USER", default_value_t = 100)]
    pub max_sessions_per_user: u32,

    /// Mark cookies `Secure` (HTTPS only). Turn off only for plain-http
    /// development on a host browsers do not treat as secure.
    #[arg(long, env = "GATEHOUSE_COOKIE_SECURE", default_value_t = true, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,

    /// Trust the immediate peer, whatever its address, to be a proxy that
    /// appends the client to `X-Forwarded-For` / `Forwarded` (prefer
    /// --trusted-proxies).
    #[arg(long, env = "GATEHOUSE_TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,

    /// Proxies (comma-separated CIDR ranges) whose `Forwarded` /
    /// `X-Forwarded-For` entries are believed: the client is the rightmost
    /// entry outside these ranges.
    #[arg(long, env = "GATEHOUSE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_cidr)]
    pub trusted_proxies: Vec<gatehouse::network::Cidr>,

    /// Rate limits key IPv6 clients by this many leading bits (one /64 is
    /// usually one subscriber).
    #[arg(long, env = "GATEHOUSE_IPV6_PREFIX", default_value_t = 64, value_parser = clap::value_parser!(u8).range(1..=128))]
    pub ipv6_prefix: u8,

    /// Create this admin at startup if no user of that name exists (an
    /// existing user is never changed). Needs --admin-password-file.
    #[arg(long, env = "GATEHOUSE_ADMIN_USER", requires = "admin_password_file")]
    pub admin_user: Option<String>,

    /// File holding the password for --admin-user.
    #[arg(long, env = "GATEHOUSE_ADMIN_PASSWORD_FILE", requires = "admin_user")]
    pub admin_password_file: Option<PathBuf>,

    /// With no --admin-user and no users at all, create `admin` with a
    /// random password and print it once in the log. Set to false to start
    /// with an empty user directory.
    #[arg(long, env = "GATEHOUSE_INITIAL_ADMIN", default_value_t = true, action = clap::ArgAction::Set)]
    pub initial_admin: bool,

    /// Rate-limit policies, replacing defaults of the same name (`limit=0`
    /// removes one). Repeat the flag, or separate with `;` in the
    /// variable. Each is `name=…,key=ip|user|session|user+route|ip+username|key,
    /// algorithm=sliding-log|sliding-counter|gcra,limit=N,window=1m,burst=N,
    /// routes=/path|/prefix*|*,fail=open|closed,replay=false`.
    /// Defaults: ip 3000/min (all routes), api-user 600/min (sliding log)
    /// and api-burst 600/min with bursts of 100 (GCRA)
    /// (/api/*), login-ip 20/min, login-lockout 5 failures/15 min per IP and
    /// username, mfa-user 10 wrong second-factor codes/15 min per account,
    /// refresh 30 rotations/min per session.
    #[arg(long = "rate-limit", env = "GATEHOUSE_RATE_LIMITS", value_delimiter = ';', value_parser = parse_policy)]
    pub rate_limits: Vec<gatehouse::ratelimit::Policy>,

    /// Leading zero bits a sign-in challenge's solution needs (each one
    /// doubles the work; at 19 a browser takes about half a second).
    #[arg(long, env = "GATEHOUSE_CHALLENGE_DIFFICULTY", default_value_t = 19, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub challenge_difficulty: u8,

    /// How long a sign-in challenge can be redeemed.
    #[arg(long, env = "GATEHOUSE_CHALLENGE_TTL", default_value = "2m", value_parser = parse_duration)]
    pub challenge_ttl: Duration,

    /// Keep about this many events in the security event stream.
    #[arg(
        long,
        env = "GATEHOUSE_EVENT_STREAM_MAX_LEN",
        default_value_t = 100_000
    )]
    pub event_stream_max_len: u64,

    /// Keep about this many audit events (sign-ins, sign-outs,
    /// revocations, role and password changes, admin actions) in their own
    /// stream, which no flood of other events can trim.
    #[arg(
        long,
        env = "GATEHOUSE_AUDIT_STREAM_MAX_LEN",
        default_value_t = 1_000_000
    )]
    pub audit_stream_max_len: u64,

    /// Argon2 hashes computed at once (each takes 19 MiB for ~20 ms), on
    /// as many threads at the lowest priority. Default: the number of CPUs
    /// (more threads than CPUs add no throughput to CPU-bound hashing).
    #[arg(long, env = "GATEHOUSE_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

impl Config {
    /// `--public-url`, or `http://localhost:<port of --addr>`.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None => format!("http://localhost:{}", self.addr.port()),
        }
    }

    /// Where the embedded Redis and the sign-out journal keep their files.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(xdg).join("gatehouse");
        }
        if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(home).join(".local/share/gatehouse");
        }
        PathBuf::from("data")
    }
}

/// Parses a rate-limit policy argument.
/// What the binary does.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Command {
    /// Validate the configuration (flags, environment, file) and print the
    /// effective settings with secrets redacted; exit 0, or 2 listing every
    /// error and where it came from.
    CheckConfig,
}

fn parse_role(text: &str) -> Result<gatehouse::api::Role, String> {
    gatehouse::api::Role::parse(text.trim()).ok_or_else(|| {
        let known = gatehouse::api::Role::ALL
            .map(|role| role.as_str())
            .join(", ");
        format!("`{text}` is not a role (one of {known})")
    })
}

fn parse_cidr(text: &str) -> Result<gatehouse::network::Cidr, String> {
    text.parse()
        .map_err(|err: gatehouse::network::BadCidr| err.to_string())
}

/// How the guard finds client addresses, from the flags.
pub fn addressing(config: &Config) -> gatehouse::network::Addressing {
    gatehouse::network::Addressing {
        trusted_proxies: config.trusted_proxies.clone(),
        trust_peer: config.trust_forwarded_for,
        ipv6_prefix: config.ipv6_prefix,
    }
}

pub fn parse_policy(text: &str) -> Result<gatehouse::ratelimit::Policy, String> {
    gatehouse::ratelimit::Policy::parse(text).map_err(|e| e.to_string())
}

/// A Redis URL, checked as the option is read so that a mistake is
/// reported with the flag (or variable) and the value it came from.
fn parse_redis_url(text: &str) -> Result<String, String> {
    gatehouse::store::check_url(text).map(|()| text.to_owned()).map_err(|_| {
        "not a Redis URL; expected redis://[user:password@]host:port[/db], rediss://... or redis+unix:///path".to_owned()
    })
}

/// A sentinel: `host:port` or a URL (see [`gatehouse::store::sentinel_url`]).
fn parse_sentinel(text: &str) -> Result<String, String> {
    gatehouse::store::sentinel_url(text).map_err(|_| {
        "not a sentinel address; expected host:port (sentinels usually listen on 26379) or redis[s]://[:password@]host:port".to_owned()
    })
}

/// Parses a duration argument (see [`gatehouse::duration::parse`]).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    gatehouse::duration::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Config::command().debug_assert();
    }

    #[test]
    fn defaults_need_no_arguments() {
        let config = Config::try_parse_from(["gatehouse"]).unwrap();
        assert_eq!(config.addr.to_string(), "127.0.0.1:3000");
        assert!(config.redis_url.is_none());
    }

    #[test]
    fn one_redis_topology_at_a_time() {
        let both = Config::try_parse_from([
            "gatehouse",
            "--redis-url",
            "redis://db",
            "--redis-sentinels",
            "redis://s1:26379",
        ]);
        assert_eq!(
            both.unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
        let node_alone =
            Config::try_parse_from(["gatehouse", "--redis-sentinel-node-url", "redis://:pw@x/0"]);
        assert_eq!(
            node_alone.unwrap_err().kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
        let wait_on_cluster = Config::try_parse_from([
            "gatehouse",
            "--redis-cluster-nodes",
            "redis://n1:7000",
            "--redis-wait-replicas",
            "1",
        ]);
        assert_eq!(
            wait_on_cluster.unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict,
            "WAIT is not offered on a Cluster"
        );
    }

    #[test]
    fn sentinels_are_host_port_or_urls() {
        let config = Config::try_parse_from([
            "gatehouse",
            "--redis-sentinels",
            "127.0.0.1:26380,s2,[::1]:26381,::1,rediss://:pw@s3:26379",
        ])
        .unwrap();
        assert_eq!(
            config.redis_sentinels,
            [
                "redis://127.0.0.1:26380",
                "redis://s2:26379",
                "redis://[::1]:26381",
                "redis://[::1]:26379",
                "rediss://:pw@s3:26379",
            ]
        );
    }

    #[test]
    fn a_bad_redis_address_names_the_flag_and_the_value() {
        for (flag, value) in [
            ("--redis-sentinels", "s1:port"),
            ("--redis-sentinels", "http://s1:26379"),
            ("--redis-url", "127.0.0.1:6379"),
            ("--redis-cluster-nodes", "redis://n1:7000,n2:notaport"),
        ] {
            let err = Config::try_parse_from(["gatehouse", flag, value])
                .expect_err(value)
                .to_string();
            assert!(err.contains(flag), "{flag} {value}: {err}");
            let bad = value.rsplit(',').next().unwrap();
            assert!(err.contains(bad), "{flag} {value}: {err}");
        }
    }
}
