//! The one typed configuration of the `gatehouse` binary.
//!
//! Every option is a command-line flag with a `GATEHOUSE_*` environment
//! variable behind it, and `gatehouse --help` lists them all with their
//! defaults. Secrets are read from files named by options, never taken as
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
    /// Address to listen on.
    #[arg(long, env = "GATEHOUSE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Redis to use (`redis://[user:password@]host:port[/db]`, `rediss://`
    /// for TLS, `redis+unix:///path`). When neither this nor
    /// --redis-cluster-nodes is set, Gatehouse starts a private
    /// `redis-server` of its own.
    #[arg(
        long,
        env = "GATEHOUSE_REDIS_URL",
        conflicts_with = "redis_cluster_nodes"
    )]
    pub redis_url: Option<String>,

    /// Seed nodes of a Redis Cluster, comma-separated `redis://host:port` URLs.
    #[arg(long, env = "GATEHOUSE_REDIS_CLUSTER_NODES", value_delimiter = ',')]
    pub redis_cluster_nodes: Vec<String>,

    /// Longest wait for any one Redis command before it counts as failed.
    #[arg(long, env = "GATEHOUSE_REDIS_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub redis_timeout: Duration,

    /// Directory for the embedded Redis's data (append-only file) and log.
    /// Default: `$XDG_DATA_HOME/gatehouse`, else `~/.local/share/gatehouse`,
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

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "GATEHOUSE_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub body_limit: usize,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

impl Config {
    /// Where the embedded Redis keeps its files.
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

/// Parses `500ms`, `30s`, `15m`, `12h`, `7d` (or a bare number of seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: use e.g. 500ms, 30s, 15m, 12h or 7d"))?;
    let millis = match unit.trim() {
        "ms" => number,
        "" | "s" => number.saturating_mul(1_000),
        "m" | "min" => number.saturating_mul(60_000),
        "h" => number.saturating_mul(3_600_000),
        "d" => number.saturating_mul(86_400_000),
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}`: use ms, s, m, h or d"
            ));
        }
    };
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 weeks").is_err());
    }

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
}
