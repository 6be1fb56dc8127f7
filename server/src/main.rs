//! The `gatehouse` binary: wiring only.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use gatehouse_server::backend::Backend;
use gatehouse_server::config::Config;
use gatehouse_server::live::EventHub;
use gatehouse_server::router::{self, HttpSettings};
use gatehouse_server::{startup, telemetry};

/// mimalloc instead of glibc's malloc: a request allocates a few hundred
/// small, short-lived blocks across two worker threads, where glibc's
/// arenas spent about a fifth of the server's CPU (profiled under the HTTP
/// benchmark); the README has the before and after.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.iter().skip(1).any(|arg| arg == "check-config") {
        return gatehouse_server::check_config::run(args);
    }
    // Flags, then the environment, then the configuration file.
    let applied = gatehouse_server::config_file::apply(args);
    if !applied.errors.is_empty() {
        for error in applied.errors {
            eprintln!("error: {error}");
        }
        return ExitCode::from(2);
    }
    let args = applied.args;
    let config = Config::parse_from(args);
    telemetry::init(config.log_format);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = err.to_string();
            let mut source = err.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            tracing::error!("gatehouse cannot start: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    // Before the core exists: it registers counters with the recorder.
    let metrics = gatehouse_server::prometheus::install()?;
    let backend = Backend::start(&config).await?;

    let (state, events) = match startup::app_state(&config, backend.store.clone()).await {
        Ok(wired) => wired,
        Err(err) => {
            backend.shutdown().await;
            return Err(err.into());
        }
    };
    let instance_id = state.instance.id.clone();
    let mut settings = HttpSettings::from(&config);
    settings.metrics = Some(metrics.clone());
    let bootstrap = startup::bootstrap_admin(&config, state.auth.clone(), &settings.readiness)?;
    let hub = EventHub::start(backend.store.clone(), events.clone());
    let upkeep = gatehouse::upkeep::start(
        &state.auth,
        startup::instance_info(&state.instance),
        gatehouse::upkeep::Intervals::default(),
    );
    // Histograms are drained into their buckets here, not per scrape.
    let metrics_upkeep = tokio::spawn({
        let metrics = metrics.clone();
        async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                metrics.run_upkeep();
            }
        }
    });
    let scraper = match config.metrics_addr {
        Some(addr) => Some(serve_metrics(addr, metrics.clone()).await?),
        None => None,
    };
    let readiness = settings.readiness.clone();
    let app = router::app(state, settings, hub.clone());

    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            backend.shutdown().await;
            return Err(format!("cannot listen on {}: {err}", config.addr).into());
        }
    };
    let addr = listener.local_addr()?;
    tracing::info!(instance = %instance_id, "listening on http://{addr}");

    // On the signal: /ready says 503, no new connections are accepted,
    // open consoles are told to reconnect elsewhere (they would otherwise
    // hold shutdown up), in-flight requests finish, for at most
    // --shutdown-timeout.
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let serve =
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                SocketAddr,
            >(app),
        )
        .with_graceful_shutdown({
            let hub = hub.clone();
            async move {
                shutdown_signal().await;
                readiness.start_draining();
                hub.close();
                let _ = signalled.send(());
            }
        });
    let drain_limit = async {
        if on_signal.await.is_ok() {
            tokio::time::sleep(config.shutdown_timeout).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let served = tokio::select! {
        served = serve.into_future() => served,
        () = drain_limit => {
            tracing::warn!(
                timeout = ?config.shutdown_timeout,
                "requests still in flight after the shutdown timeout; closing their connections"
            );
            Ok(())
        }
    };
    tracing::info!("HTTP server stopped");
    if let Some(scraper) = scraper {
        scraper.abort();
    }
    metrics_upkeep.abort();
    drop(upkeep);
    bootstrap.abort();
    // Every event of the last requests reaches Redis before it stops.
    if tokio::time::timeout(std::time::Duration::from_secs(5), events.flush())
        .await
        .is_err()
    {
        tracing::warn!("security events still queued at shutdown were not all written");
    }
    backend.shutdown().await;
    served.map_err(Into::into)
}

/// Serves `/metrics` without authentication on `addr` (`--metrics-addr`).
async fn serve_metrics(
    addr: SocketAddr,
    handle: metrics_exporter_prometheus::PrometheusHandle,
) -> Result<tokio::task::JoinHandle<()>, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| format!("cannot listen on --metrics-addr {addr}: {err}"))?;
    tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { gatehouse_server::prometheus::render(&handle) }
        }),
    );
    Ok(tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "the metrics listener stopped");
        }
    }))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
