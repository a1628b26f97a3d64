//! The `roster` binary's wiring: configuration, storage and services put together, the
//! command-line interface, and telemetry. No logic the server needs lives here.

pub mod cli;
pub mod commands;
pub mod config;
pub mod ops;
pub mod stream;

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
    let mut http = HttpConfig {
        public_url: config.public_url(),
        max_body_bytes: config.max_body_bytes,
        request_timeout: std::time::Duration::from_secs(config.request_timeout_secs.max(1)),
        header_read_timeout: std::time::Duration::from_secs(config.header_read_timeout_secs.max(1)),
        rate_limits: roster_http::ratelimit::RateLimits {
            per_token: config.rate_limit_per_token,
            token_burst: config.rate_limit_token_burst,
            per_tenant: config.rate_limit_per_tenant,
            tenant_burst: config.rate_limit_tenant_burst,
        },
        metrics_route: config.metrics_listen.is_none(),
        ..HttpConfig::default()
    };
    http.event_long_poll = std::time::Duration::from_secs(config.event_long_poll_secs.clamp(1, 3600));
    AppState::new(core, http)
}

/// The event push worker's settings for a configuration.
pub fn push_config(config: &Config) -> roster_http::events::push::PushConfig {
    let mut push = roster_http::events::push::PushConfig::new(&config.public_url());
    push.timeout = std::time::Duration::from_secs(config.event_push_timeout_secs.clamp(1, 600));
    push.lease = push.timeout * 2 + std::time::Duration::from_secs(30);
    push.retry.max_attempts = i64::from(config.event_push_max_attempts.max(1));
    push
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

/// Sets up logging to standard error: `filter` in `RUST_LOG` syntax (the `log` setting,
/// `ROSTER_LOG`), as JSON lines (`json`: one object per line, with the request span's
/// fields such as `request_id`) or human-readable text (`pretty`).
pub fn init_telemetry(format: &str, filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        let _ = builder.json().with_current_span(true).with_span_list(true).try_init();
    } else {
        let _ = builder.with_ansi(ansi).try_init();
    }
}
