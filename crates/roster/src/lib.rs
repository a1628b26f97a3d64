//! The `roster` binary's wiring: configuration, storage and services put together, the
//! command-line interface, and telemetry. No logic the server needs lives here.

pub mod cli;
pub mod commands;
pub mod config;

use std::sync::Arc;

use roster_core::{Core, RandomIds, SystemClock};
use roster_http::{AppState, HttpConfig};
use roster_scim::discovery::ServiceProviderConfig;
use roster_store::{SqlStore, StoreOptions};

use config::Config;

/// Opens the database (creating and migrating it if needed) and builds the services.
pub async fn open(config: &Config) -> anyhow::Result<(Arc<Core>, SqlStore)> {
    let url = config.database_url();
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let store =
        SqlStore::connect(&url, &StoreOptions { max_connections: config.max_connections, ..Default::default() })
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database {url}: {e}"))?;
    let core = Core::new(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        ServiceProviderConfig::default(),
    );
    // Every command sees the tenant `default` that the first start creates.
    core.ensure_tenant(roster_core::tenants::DEFAULT_TENANT).await?;
    Ok((Arc::new(core), store))
}

/// The HTTP state for a configuration.
pub fn app_state(core: Arc<Core>, config: &Config) -> AppState {
    AppState::new(
        core,
        HttpConfig { public_url: config.public_url(), max_body_bytes: config.max_body_bytes, ..HttpConfig::default() },
    )
}

/// Resolves when the process is asked to stop (SIGINT or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Sets up logging: `RUST_LOG`-style filter from `ROSTER_LOG` (default `info`).
pub fn init_telemetry(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROSTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if format == "json" {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
