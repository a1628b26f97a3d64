//! The command line (DESIGN §2): `roster serve`, `tenant`, `token`, `migrate`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use roster_core::Idp;
use roster_core::tenants::{DEFAULT_TENANT, Expiry, target_url};

use crate::config::{Config, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Roster: a SCIM 2.0 provisioning server"
)]
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
    /// Apply database migrations and exit
    Migrate,
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
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a SCIM token; prints the secret (once) and the target SCIM URL
    Create(TokenCreate),
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
            }
            Command::Token(TokenCommand::Create(t)) => o.public_url = t.public_url.clone(),
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
    match cli.command {
        Command::Serve(_) => serve(&config).await,
        Command::Migrate => {
            let (_, store) = crate::open(&config).await?;
            store.migrate().await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Tenant(cmd) => {
            let (core, _) = crate::open(&config).await?;
            match cmd {
                TenantCommand::Create { slug, json } => {
                    let t = core.create_tenant(&slug).await?;
                    let url = target_url(&config.public_url(), &t.slug);
                    if json {
                        println!("{}", json!({"slug": t.slug, "target_url": url}));
                    } else {
                        println!("Created tenant {} (SCIM base URL {url})", t.slug);
                    }
                }
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
        Command::Token(TokenCommand::Create(args)) => {
            let (core, _) = crate::open(&config).await?;
            let idp = Idp::parse(&args.idp).ok_or_else(|| {
                anyhow::anyhow!("unknown IdP {:?}: use entra, okta, onelogin, pingone, jumpcloud, google or other", args.idp)
            })?;
            let expiry = Expiry::parse(&args.expires_in)?;
            core.ensure_tenant(DEFAULT_TENANT).await?;
            let issued = core
                .issue_token(&args.tenant, idp, &args.name, expiry, &config.public_url())
                .await?;
            if args.json {
                println!("{}", serde_json::to_string(&issued)?);
            } else {
                println!(
                    "SCIM token for {} (shown once; store it in the identity provider now):\n",
                    idp.display_name()
                );
                println!("  Token:            {}", issued.token);
                println!("  Target SCIM URL:  {}", issued.target_url);
                println!("  Token id:         {}", issued.id);
                match issued.expires_at {
                    Some(t) => println!(
                        "  Expires:          {}",
                        roster_scim::text::format_datetime(t)
                    ),
                    None => println!("  Expires:          never"),
                }
            }
            Ok(())
        }
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    crate::init_telemetry(&config.log_format);
    let (core, store) = crate::open(config).await?;
    core.ensure_tenant(DEFAULT_TENANT).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let state = crate::app_state(core, config);
    tracing::info!(
        listen = %listener.local_addr()?,
        scim_base = %target_url(&config.public_url(), DEFAULT_TENANT),
        database = %redact(&config.database_url()),
        "Roster is serving SCIM 2.0"
    );
    roster_http::serve(listener, state, crate::shutdown_signal()).await?;
    store.close().await;
    Ok(())
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
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            super::redact("sqlite://./roster-data/roster.db"),
            "sqlite://./roster-data/roster.db"
        );
    }
}
