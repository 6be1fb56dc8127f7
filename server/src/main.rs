//! The `gatehouse` binary: reads the configuration and runs one
//! [`Gatehouse`] until SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use gatehouse_server::config::Config;
use gatehouse_server::lifecycle::{Gatehouse, Options};
use gatehouse_server::telemetry;

/// mimalloc instead of glibc's malloc: a request allocates a few hundred
/// small, short-lived blocks across two worker threads, where glibc's
/// arenas spent about a fifth of the server's CPU (profiled under the HTTP
/// benchmark); the book's Benchmarks chapter has the before and after.
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
    let options = Options {
        // Before the core exists: it registers counters with the recorder.
        metrics: gatehouse_server::prometheus::install()?,
        upkeep: gatehouse::upkeep::Intervals::default(),
    };
    let instance = Gatehouse::start(&config, options).await?;
    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            instance.stop().await;
            return Err(format!("cannot listen on {}: {err}", config.addr).into());
        }
    };
    // Open it at the public URL: passkeys need its host name.
    tracing::info!(
        instance = %instance.state().instance.id,
        public_url = %config.public_url(),
        "listening on http://{}",
        listener.local_addr()?
    );
    Ok(instance.run(listener, shutdown_signal()).await?)
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
