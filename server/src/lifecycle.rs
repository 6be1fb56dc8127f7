//! One owner for everything an instance runs, started and stopped in one
//! place (in the manner of mini-redis' `server::run(listener, shutdown)`).
//!
//! [`Gatehouse::start`] connects to Redis (or starts the embedded one),
//! builds the core and the router, and starts every task: the live event
//! hub, the instance's chores, the admin bootstrap, the metrics upkeep and
//! the separate metrics listener. If any step fails, what already started
//! is stopped before the error is returned, so an embedded Redis is never
//! left to be killed. [`Gatehouse::run`] serves HTTP until a shutdown
//! signal and then stops everything in order; [`Gatehouse::stop`] does the
//! same without serving. `main` and the tests use this same type.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use gatehouse::events::Events;
use gatehouse::upkeep::{Intervals, Upkeep};
use gatehouse_app::state::AppState;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::backend::{Backend, BackendError};
use crate::config::Config;
use crate::health::Readiness;
use crate::live::EventHub;
use crate::router::{self, Gateway, HttpSettings};
use crate::startup::{self, StartupError};

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What a caller chooses beyond the configuration.
#[derive(Clone, Debug)]
pub struct Options {
    /// The process's metrics recorder (installed before the core exists).
    pub metrics: PrometheusHandle,
    /// How often the instance's chores run.
    pub upkeep: Intervals,
}

/// A running instance (everything but the HTTP listener, which
/// [`Gatehouse::run`] takes).
pub struct Gatehouse {
    backend: Backend,
    state: AppState,
    events: Events,
    router: Gateway,
    readiness: Readiness,
    hub: EventHub,
    upkeep: Upkeep,
    bootstrap: JoinHandle<()>,
    metrics_upkeep: JoinHandle<()>,
    scraper: Option<JoinHandle<()>>,
    shutdown_timeout: Duration,
}

impl Gatehouse {
    /// Starts an instance as `config` says.
    pub async fn start(config: &Config, options: Options) -> Result<Self, StartError> {
        let backend = Backend::start(config).await?;
        let prepared = match prepare(config, &options, &backend).await {
            Ok(prepared) => prepared,
            Err(err) => {
                backend.shutdown().await;
                return Err(err);
            }
        };
        // Nothing below can fail.
        let Prepared {
            state,
            events,
            settings,
            metrics_listener,
            bootstrap,
        } = prepared;
        let hub = EventHub::start(backend.store.clone(), events.clone());
        let upkeep = gatehouse::upkeep::start(
            &state.auth,
            startup::instance_info(&state.instance),
            options.upkeep,
        );
        let metrics_upkeep = tokio::spawn({
            let metrics = options.metrics.clone();
            async move {
                // Histograms are drained into their buckets here, not per
                // scrape.
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    metrics.run_upkeep();
                }
            }
        });
        let scraper =
            metrics_listener.map(|listener| tokio::spawn(serve_metrics(listener, options.metrics)));
        Ok(Self {
            readiness: settings.readiness.clone(),
            router: router::app(state.clone(), settings, hub.clone()),
            backend,
            state,
            events,
            hub,
            upkeep,
            bootstrap,
            metrics_upkeep,
            scraper,
            shutdown_timeout: config.shutdown_timeout,
        })
    }

    /// The router, for serving (or for tests, to send requests through).
    pub fn router(&self) -> &Gateway {
        &self.router
    }

    /// What every request sees.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The live event hub (tests wait for it to be tailing).
    pub fn hub(&self) -> &EventHub {
        &self.hub
    }

    /// What `/ready` answers from.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Serves HTTP on `listener` until `shutdown` resolves, then stops
    /// everything in order. On the signal: `/ready` says 503, no new
    /// connections are accepted, open consoles are told to reconnect
    /// elsewhere (they would otherwise hold shutdown up), and in-flight
    /// requests finish, for at most `--shutdown-timeout`.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
        let app = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            SocketAddr,
        >(self.router.clone());
        let serve = axum::serve(listener, app).with_graceful_shutdown({
            let (readiness, hub) = (self.readiness.clone(), self.hub.clone());
            async move {
                shutdown.await;
                readiness.start_draining();
                hub.close();
                let _ = signalled.send(());
            }
        });
        let timeout = self.shutdown_timeout;
        let drain_limit = async {
            if on_signal.await.is_ok() {
                tokio::time::sleep(timeout).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let served = tokio::select! {
            served = serve.into_future() => served,
            () = drain_limit => {
                tracing::warn!(
                    ?timeout,
                    "requests still in flight after the shutdown timeout; closing their connections"
                );
                Ok(())
            }
        };
        tracing::info!("HTTP server stopped");
        self.stop().await;
        served
    }

    /// Stops every task, writes the last security events, and stops the
    /// embedded Redis cleanly (flushing its append-only file).
    pub async fn stop(self) {
        self.readiness.start_draining();
        self.hub.close();
        if let Some(scraper) = &self.scraper {
            scraper.abort();
        }
        self.metrics_upkeep.abort();
        self.bootstrap.abort();
        drop(self.upkeep);
        // Every event of the last requests reaches Redis before it stops.
        if tokio::time::timeout(Duration::from_secs(5), self.events.flush())
            .await
            .is_err()
        {
            tracing::warn!("security events still queued at shutdown were not all written");
        }
        self.backend.shutdown().await;
    }
}

/// What start-up builds before any task of the instance runs.
struct Prepared {
    state: AppState,
    events: Events,
    settings: HttpSettings,
    metrics_listener: Option<TcpListener>,
    /// Spawned last, once nothing else can fail.
    bootstrap: JoinHandle<()>,
}

/// The steps of start-up that can fail.
async fn prepare(
    config: &Config,
    options: &Options,
    backend: &Backend,
) -> Result<Prepared, StartError> {
    let (state, events) = startup::app_state(config, backend.store.clone()).await?;
    let metrics_listener = match config.metrics_addr {
        Some(addr) => Some(metrics_listener(addr).await?),
        None => None,
    };
    let mut settings = HttpSettings::from(config);
    settings.metrics = Some(options.metrics.clone());
    let bootstrap = startup::bootstrap_admin(config, state.auth.clone(), &settings.readiness)?;
    Ok(Prepared {
        state,
        events,
        settings,
        metrics_listener,
        bootstrap,
    })
}

/// The `--metrics-addr` listener, bound now so a taken port stops start-up.
async fn metrics_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await.map_err(|err| {
        std::io::Error::new(
            err.kind(),
            format!("cannot listen on --metrics-addr {addr}: {err}"),
        )
    })?;
    tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
    Ok(listener)
}

/// Serves `/metrics` without authentication (`--metrics-addr`).
async fn serve_metrics(listener: TcpListener, handle: PrometheusHandle) {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { crate::prometheus::render(&handle) }
        }),
    );
    if let Err(err) = axum::serve(listener, app).await {
        tracing::error!(error = %err, "the metrics listener stopped");
    }
}
