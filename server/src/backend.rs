//! Which Redis this instance uses: the operator's, or a private one.
//!
//! With `--redis-url`, `--redis-cluster-nodes` or `--redis-sentinels`
//! Gatehouse connects to that Redis and leaves its lifecycle to the
//! operator. With none of them, it starts
//! an embedded `redis-server` with append-only persistence in the data
//! directory, so users and sessions survive a restart, and stops it on
//! shutdown.

use gatehouse::embedded::{EmbeddedError, EmbeddedOptions, RedisServer};
use gatehouse::store::{Endpoint, Replication, StoreConfig, Tls, redact_url};
use gatehouse::{Store, StoreError};

use crate::config::Config;

/// Why Redis could not be set up at startup.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read {flag} {path}: {source}")]
    TlsFile {
        flag: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--redis-tls-cert-file and --redis-tls-key-file go together: give both or neither")]
    TlsPair,
}

/// The Redis this process talks to.
pub struct Backend {
    pub store: Store,
    embedded: Option<RedisServer>,
}

impl Backend {
    /// Connects to the configured Redis, or starts the embedded one.
    pub async fn start(config: &Config) -> Result<Self, BackendError> {
        let (endpoint, embedded) = if let Some(url) = &config.redis_url {
            tracing::info!(redis = %redact_url(url), "using the configured Redis");
            (Endpoint::Single(url.clone()), None)
        } else if !config.redis_cluster_nodes.is_empty() {
            let nodes: Vec<_> = config
                .redis_cluster_nodes
                .iter()
                .map(|u| redact_url(u))
                .collect();
            tracing::info!(nodes = ?nodes, "using the configured Redis Cluster");
            (Endpoint::Cluster(config.redis_cluster_nodes.clone()), None)
        } else if !config.redis_sentinels.is_empty() {
            let sentinels: Vec<_> = config
                .redis_sentinels
                .iter()
                .map(|u| redact_url(u))
                .collect();
            tracing::info!(
                sentinels = ?sentinels,
                master = %config.redis_sentinel_master,
                "using the primary Redis Sentinel names"
            );
            let endpoint = Endpoint::Sentinel {
                sentinels: config.redis_sentinels.clone(),
                master: config.redis_sentinel_master.clone(),
                node: config.redis_sentinel_node_url.clone(),
            };
            (endpoint, None)
        } else {
            let mut options = EmbeddedOptions::new(config.data_dir(), true);
            options.binary = config.redis_server_bin.clone();
            // It holds password hashes: no other local user may use it.
            options.password = Some(gatehouse::embedded::load_or_create_password(
                &config.data_dir(),
            )?);
            let server = RedisServer::start(&options).await?;
            tracing::info!(
                redis = %redact_url(&server.url()),
                pid = server.pid(),
                data_dir = %server.dir().display(),
                "started the embedded Redis (no --redis-url configured)"
            );
            (Endpoint::Single(server.url()), Some(server))
        };
        let store_config = StoreConfig {
            endpoint,
            response_timeout: config.redis_timeout,
            replication: Replication {
                replicas: config
                    .redis_wait_replicas
                    .unwrap_or(u32::from(!config.redis_sentinels.is_empty())),
                timeout: config.redis_wait_timeout,
            },
            tls: tls(config)?,
            ..StoreConfig::single("")
        };
        let store = Store::connect(&store_config).await?;
        if let Err(err) = store.ping().await {
            // Not fatal: the connection is re-established in the background
            // and /ready reports 503 until then.
            tracing::warn!(error = %err, "Redis is not answering yet; /ready will say 503 until it does");
        }
        Ok(Self { store, embedded })
    }

    /// Stops the embedded Redis (cleanly, flushing its append-only file).
    pub async fn shutdown(self) {
        if let Some(server) = self.embedded {
            let pid = server.pid();
            match server.shutdown().await {
                Ok(()) => tracing::info!(pid, "embedded Redis stopped"),
                Err(err) => {
                    tracing::error!(pid, error = %err, "embedded Redis did not stop cleanly")
                }
            }
        }
    }
}

/// The certificates the `--redis-tls-*` flags name, read now so that a
/// missing file stops startup with its name.
fn tls(config: &Config) -> Result<Option<Tls>, BackendError> {
    let read = |flag: &'static str, path: &Option<std::path::PathBuf>| {
        path.as_ref()
            .map(|path| {
                std::fs::read(path).map_err(|source| BackendError::TlsFile {
                    flag,
                    path: path.clone(),
                    source,
                })
            })
            .transpose()
    };
    let ca = read("--redis-tls-ca-file", &config.redis_tls_ca_file)?;
    let client = match (
        read("--redis-tls-cert-file", &config.redis_tls_cert_file)?,
        read("--redis-tls-key-file", &config.redis_tls_key_file)?,
    ) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err(BackendError::TlsPair),
    };
    Ok((ca.is_some() || client.is_some()).then_some(Tls { ca, client }))
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use gatehouse::testing::TestSentinel;

    use super::*;

    #[tokio::test]
    async fn sentinel_flags_lead_to_the_primary() {
        let setup = TestSentinel::start().await;
        // The first sentinel as operators usually write it, host:port (the
        // password the others' URLs carry applies to every sentinel).
        let mut flags = setup.flags();
        let (first, rest) = flags[1].split_once(',').unwrap();
        let (_, address) = first.rsplit_once('@').unwrap();
        assert!(address.starts_with("127.0.0.1:"), "{address}");
        flags[1] = format!("{address},{rest}");
        let config =
            Config::try_parse_from(std::iter::once("gatehouse".to_owned()).chain(flags)).unwrap();
        let backend = Backend::start(&config).await.unwrap();
        let _: () = redis::cmd("SET")
            .arg("gh:test:via-sentinel")
            .arg("yes")
            .query_async(&mut backend.store.conn())
            .await
            .unwrap();
        let mut primary = redis::Client::open(setup.primary.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let value: String = redis::cmd("GET")
            .arg("gh:test:via-sentinel")
            .query_async(&mut primary)
            .await
            .unwrap();
        assert_eq!(value, "yes");
    }

    /// A TLS deployment whose CA is not given: the certificates cannot be
    /// checked, and startup says so instead of talking in the clear.
    #[tokio::test]
    async fn tls_without_the_ca_is_refused() {
        let setup = TestSentinel::start_tls().await;
        let flags: Vec<String> = setup
            .flags()
            .into_iter()
            .take_while(|flag| flag != "--redis-tls-ca-file")
            .collect();
        let config =
            Config::try_parse_from(std::iter::once("gatehouse".to_owned()).chain(flags)).unwrap();
        let err = Backend::start(&config).await.err().expect("an error");
        assert!(err.to_string().contains("certificate"), "{err}");
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let config = Config::try_parse_from([
            "gatehouse",
            "--redis-url",
            "rediss://db:6380",
            "--redis-tls-cert-file",
            "/dev/null",
        ])
        .unwrap();
        assert!(matches!(tls(&config), Err(BackendError::TlsPair)));
        let missing = Config::try_parse_from([
            "gatehouse",
            "--redis-url",
            "rediss://db:6380",
            "--redis-tls-ca-file",
            "/nonexistent/ca.pem",
        ])
        .unwrap();
        let err = tls(&missing).unwrap_err().to_string();
        assert!(
            err.contains("--redis-tls-ca-file /nonexistent/ca.pem"),
            "{err}"
        );
    }
}
