//! The command line (DESIGN §2): `roster serve`, `tenant`, `token`, `migrate`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use roster_core::audit::Actor;
use roster_core::tenants::{DEFAULT_TENANT, target_url};

use crate::config::{Config, Overrides};

#[derive(Debug, Parser)]
#[command(name = "roster", version, about = "Roster: a SCIM 2.0 provisioning server")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Directory of the embedded database (roster.db) [env: ROSTER_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://... (overrides --data-dir) [env: ROSTER_DATABASE_URL]
    #[arg(long = "database", global = true, value_name = "URL")]
    pub database: Option<String>,
    /// TOML configuration file
    #[arg(long, global = true, env = "ROSTER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (first start creates the database and the tenant "default")
    Serve(ServeArgs),
    /// Manage tenants
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage SCIM tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the tenant's custom User attributes
    #[command(subcommand)]
    Attribute(AttributeCommand),
    /// Show the audit trail (newest first)
    Audit(AuditArgs),
    /// Show the provisioning log of SCIM requests (newest first)
    Log(LogArgs),
    /// Manage administrator accounts and admin API keys
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage event streams: SCIM change events (RFC 9967) pushed to or polled by an application
    #[command(subcommand)]
    Stream(crate::stream::StreamCommand),
    /// Apply database migrations and exit
    Migrate,
    /// Copy the whole installation into another (empty) database, e.g. SQLite to PostgreSQL
    Copy {
        /// The source database URL (default: the configured database)
        #[arg(long, value_name = "URL")]
        from: Option<String>,
        /// The target database URL; it is migrated first and must be empty
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Exit 0 if the server answers GET /readyz with 200, 1 otherwise (container health checks)
    Healthcheck(crate::ops::HealthcheckArgs),
    /// Write a consistent snapshot of the SQLite database to FILE, while the server runs
    Backup(crate::ops::BackupArgs),
    /// Replace the SQLite database with a backup made by `roster backup` (stop the server first)
    Restore(crate::ops::RestoreArgs),
    /// Inspect the configuration
    #[command(subcommand)]
    Config(crate::ops::ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum AttributeCommand {
    /// Define a custom attribute (it appears in /Schemas at once)
    Define {
        name: String,
        /// string, boolean, integer, decimal, dateTime or reference
        #[arg(long = "type")]
        ty: String,
        #[arg(long)]
        multi_valued: bool,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// List the custom attributes and the extension URN
    List {
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a custom attribute and every stored value of it
    Remove {
        name: String,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
}

#[derive(Debug, Args)]
pub struct TenantSet {
    pub slug: String,
    /// The <vendor> of the custom extension urn:ietf:params:scim:schemas:extension:<vendor>:2.0:User
    #[arg(long)]
    pub vendor: Option<String>,
    /// reject (default) or allow
    #[arg(long)]
    pub username_changes: Option<String>,
    /// lenient (default) or strict
    #[arg(long)]
    pub unknown_attributes: Option<String>,
    /// skip (default) or reject
    #[arg(long)]
    pub unknown_members: Option<String>,
    #[arg(long)]
    pub nested_groups: Option<bool>,
    /// resource (default: 200 with the group) or no_content (204)
    #[arg(long)]
    pub group_patch_response: Option<String>,
    #[arg(long)]
    pub max_tokens: Option<u32>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this tenant's events (default: every tenant and installation-wide events)
    #[arg(long)]
    pub tenant: Option<String>,
    /// An event code (scim_token.created) or name ("SCIM Token Created")
    #[arg(long)]
    pub event: Option<String>,
    /// Only events at or after this RFC 3339 time
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    #[arg(long, default_value = DEFAULT_TENANT)]
    pub tenant: String,
    /// Only requests made with this token id
    #[arg(long)]
    pub token: Option<String>,
    /// Only 2xx, 4xx or 5xx
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator (prints a generated password unless --password-stdin)
    Create {
        username: String,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set an administrator's password (prints a generated one unless --password-stdin)
    SetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List administrators
    List {
        #[arg(long)]
        json: bool,
    },
    /// Manage admin API keys
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an admin API key; prints the key once
    Create {
        #[arg(long, default_value = "")]
        name: String,
        /// Limit the key to one tenant (default: every tenant)
        #[arg(long)]
        tenant: Option<String>,
        /// admin (full) or read (read-only, including the tenant's SCIM reads)
        #[arg(long, default_value = "admin")]
        scope: String,
        #[arg(long)]
        json: bool,
    },
    /// List admin API keys
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete an admin API key
    Delete { id: String },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: ROSTER_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// URL clients reach Roster at [env: ROSTER_PUBLIC_URL] [default: http://{listen}]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Log format: pretty or json [env: ROSTER_LOG_FORMAT]
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key) [env: ROSTER_TLS_CERT]
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert [env: ROSTER_TLS_KEY]
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve /metrics (and /healthz, /readyz) on this separate address instead [env: ROSTER_METRICS_LISTEN]
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant
    Create {
        slug: String,
        #[arg(long)]
        json: bool,
    },
    /// List tenants
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a tenant's settings
    Show {
        slug: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a tenant's settings
    Set(TenantSet),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a SCIM token; prints the secret (once) and the target SCIM URL
    Create(TokenCreate),
    /// List a tenant's tokens (never their secrets)
    List(TokenTarget),
    /// Set a token active
    Enable(TokenId),
    /// Set a token inactive: SCIM requests with it are refused until it is enabled again
    Disable(TokenId),
    /// Give a token a new secret and expiry (the old secret stops working at once)
    Renew(TokenRenew),
    /// Remove a token (its slot is free)
    Remove(TokenId),
}

#[derive(Debug, Args)]
pub struct TokenTarget {
    #[arg(long, default_value = DEFAULT_TENANT)]
    pub tenant: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TokenId {
    /// The token id (from `roster token list`)
    pub id: String,
    #[arg(long, default_value = DEFAULT_TENANT)]
    pub tenant: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TokenRenew {
    pub id: String,
    #[arg(long, default_value = DEFAULT_TENANT)]
    pub tenant: String,
    /// The new lifetime: e.g. 365d, 12h, 2w, or never
    #[arg(long, default_value = "365d")]
    pub expires_in: String,
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TokenCreate {
    /// The identity provider: entra, okta, onelogin, pingone, jumpcloud, google, other
    #[arg(long)]
    pub idp: String,
    #[arg(long, default_value = DEFAULT_TENANT)]
    pub tenant: String,
    /// A name to tell tokens apart
    #[arg(long, default_value = "")]
    pub name: String,
    /// How long the token lives: e.g. 365d, 12h, 2w, or never
    #[arg(long, default_value = "365d")]
    pub expires_in: String,
    /// URL clients reach Roster at (for the target URL) [env: ROSTER_PUBLIC_URL]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    #[arg(long)]
    pub json: bool,
}

impl Cli {
    fn overrides(&self) -> Overrides {
        let mut o = Overrides {
            data_dir: self.global.data_dir.clone(),
            database_url: self.global.database.clone(),
            ..Default::default()
        };
        match &self.command {
            Command::Serve(s) => {
                o.listen = s.listen;
                o.public_url = s.public_url.clone();
                o.log_format = s.log_format.clone();
                o.tls_cert = s.tls_cert.clone();
                o.tls_key = s.tls_key.clone();
                o.metrics_listen = s.metrics_listen;
            }
            Command::Token(TokenCommand::Create(t)) => o.public_url = t.public_url.clone(),
            Command::Token(TokenCommand::Renew(t)) => o.public_url = t.public_url.clone(),
            Command::Stream(crate::stream::StreamCommand::Create(t)) => o.public_url = t.public_url.clone(),
            _ => {}
        }
        o
    }

    pub fn config(&self) -> anyhow::Result<Config> {
        Config::load(self.global.config.as_deref(), &self.overrides())
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config()?;
    let overrides = cli.overrides();
    let warnings = crate::config::unknown_env_vars(std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()));
    if let Command::Serve(_) = cli.command {
        crate::init_telemetry(&config.log_format, &config.log);
        for w in &warnings {
            tracing::warn!("{w}");
        }
    } else {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    match cli.command {
        Command::Serve(_) => serve(&config).await,
        Command::Healthcheck(args) => crate::ops::healthcheck(&config, args).await,
        Command::Backup(args) => crate::ops::backup(&config, args).await,
        Command::Restore(args) => crate::ops::restore(&config, args).await,
        Command::Config(cmd) => crate::ops::config(cli.global.config.as_deref(), &overrides, &warnings, cmd),
        Command::Migrate => {
            let (_, store) = crate::open(&config).await?;
            store.migrate().await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Copy { from, to } => {
            let from = from.unwrap_or_else(|| config.database_url());
            let options = roster_store::StoreOptions::default();
            let source = roster_store::SqlStore::connect(&from, &options)
                .await
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", redact(&from)))?;
            let target = roster_store::SqlStore::connect(&to, &options)
                .await
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", redact(&to)))?;
            let report = source.copy_into(&target).await?;
            for (table, rows) in report {
                println!("{table:<20} {rows} rows");
            }
            println!("copied {} to {}", redact(&from), redact(&to));
            Ok(())
        }
        Command::Tenant(cmd) => {
            let (core, _) = crate::open(&config).await?;
            match cmd {
                TenantCommand::Create { slug, json } => {
                    let t = core.create_tenant_as(&Actor::cli(), &slug).await?;
                    let url = target_url(&config.public_url(), &t.slug);
                    if json {
                        println!("{}", json!({"slug": t.slug, "target_url": url}));
                    } else {
                        println!("Created tenant {} (SCIM base URL {url})", t.slug);
                    }
                }
                TenantCommand::Show { slug, json } => crate::commands::tenant_show(&core, &config, &slug, json).await?,
                TenantCommand::Set(args) => crate::commands::tenant_set(&core, &config, args).await?,
                TenantCommand::List { json } => {
                    let tenants = core.tenants().await?;
                    if json {
                        let list: Vec<_> = tenants
                            .iter()
                            .map(|t| json!({"slug": t.slug, "target_url": target_url(&config.public_url(), &t.slug)}))
                            .collect();
                        println!("{}", serde_json::Value::Array(list));
                    } else {
                        for t in tenants {
                            println!("{}\t{}", t.slug, target_url(&config.public_url(), &t.slug));
                        }
                    }
                }
            }
            Ok(())
        }
        Command::Token(cmd) => {
            let (core, _) = crate::open(&config).await?;
            crate::commands::token(&core, &config, cmd).await
        }
        Command::Attribute(cmd) => {
            let (core, _) = crate::open(&config).await?;
            crate::commands::attribute(&core, cmd).await
        }
        Command::Audit(args) => {
            let (core, _) = crate::open(&config).await?;
            crate::commands::audit(&core, args).await
        }
        Command::Log(args) => {
            let (core, _) = crate::open(&config).await?;
            crate::commands::provisioning_log(&core, args).await
        }
        Command::Admin(cmd) => {
            let (core, _) = crate::open(&config).await?;
            crate::commands::admin(&core, cmd).await
        }
        Command::Stream(cmd) => {
            let (core, _) = crate::open(&config).await?;
            crate::stream::run(&core, &config, cmd).await
        }
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    // Read the certificate first: a bad one stops the start before anything is written.
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(roster_http::tls::load_server_config(cert, key)?),
        (None, None) => None,
        _ => anyhow::bail!("built-in HTTPS needs both tls_cert and tls_key"),
    };
    let (core, store) = crate::open(config).await?;
    core.ensure_tenant(DEFAULT_TENANT).await?;
    // First start: an administrator to sign in with.
    if let Some(generated) = core.ensure_first_admin(config.admin_password()).await? {
        tracing::warn!(
            username = "admin",
            password = %generated,
            "created the first administrator with a generated password (shown this once); change it with `roster admin set-password admin`"
        );
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let state = crate::app_state(core.clone(), config);
    let metrics_server = match config.metrics_listen {
        Some(addr) => {
            let metrics_listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (metrics_listen): {e}"))?;
            tracing::info!(metrics_listen = %metrics_listener.local_addr()?, "serving /metrics, /healthz and /readyz");
            Some(tokio::spawn(roster_http::metrics::serve(metrics_listener, state.clone(), std::future::pending())))
        }
        None => None,
    };
    let pruning = tokio::spawn(prune_provisioning_log(core.clone(), config.provisioning_log_retention_days));
    let event_pruning = tokio::spawn(prune_events(core.clone(), config.event_retention_days));
    // Event push delivery (RFC 8935) runs beside the server, off the request path.
    let push = roster_http::events::push::PushWorker::spawn(core.clone(), crate::push_config(config))
        .map_err(|e| anyhow::anyhow!(e))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        scim_base = %target_url(&config.public_url(), DEFAULT_TENANT),
        portal = %format!("{}/admin", config.public_url()),
        admin_api = %format!("{}/admin/api", config.public_url()),
        database = %redact(&config.database_url()),
        tls = tls.is_some(),
        "Roster is serving SCIM 2.0"
    );
    match tls {
        Some(tls) => roster_http::serve_tls(listener, state, tls, crate::shutdown_signal()).await?,
        None => roster_http::serve(listener, state, crate::shutdown_signal()).await?,
    }
    pruning.abort();
    event_pruning.abort();
    push.stop().await;
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    core.log.flush().await;
    store.close().await;
    Ok(())
}

/// Deletes events past their retention (and delivered to every stream), hourly.
async fn prune_events(core: std::sync::Arc<roster_core::Core>, retention_days: u32) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match core.prune_events(time::Duration::days(i64::from(retention_days.max(1)))).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned delivered events"),
            Err(e) => tracing::warn!(error = %e, "could not prune events"),
        }
    }
}

/// Deletes provisioning-log rows past their retention, hourly.
async fn prune_provisioning_log(core: std::sync::Arc<roster_core::Core>, retention_days: u32) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match core.prune_provisioning_log(time::Duration::days(i64::from(retention_days.max(1)))).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned the provisioning log"),
            Err(e) => tracing::warn!(error = %e, "could not prune the provisioning log"),
        }
    }
}

/// A database URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords_in_database_urls() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("sqlite://./roster-data/roster.db"), "sqlite://./roster-data/roster.db");
    }
}
