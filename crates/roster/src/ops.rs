//! Operations commands: `roster healthcheck`, `roster backup`, `roster restore` and
//! `roster config check`. docs/operations.md is the operator's guide to them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use roster_core::Store;

use crate::cli::redact;
use crate::config::{Config, Overrides};

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The URL to GET [default: http://{metrics_listen or listen}/readyz, with 0.0.0.0 read as 127.0.0.1]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Seconds to wait for the answer
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup (a SQLite database file)
    pub file: PathBuf,
    /// Overwrite FILE if it exists
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup to restore (a file written by `roster backup`)
    pub file: PathBuf,
    /// Replace a database that holds data (it is kept beside it as roster.db.pre-restore-<time>)
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and check the configuration; print it with secrets redacted (exit 1 if invalid)
    Check {
        #[arg(long)]
        json: bool,
    },
}

/// The address to reach a server listening on `addr` from this machine: a wildcard
/// address (0.0.0.0, ::) is reached through loopback.
fn local(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], a.port())),
        SocketAddr::V6(a) if a.ip().is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port())),
        other => other,
    }
}

/// The health check URL for a configuration: the metrics listener if there is one (plain
/// HTTP even when the main listener serves HTTPS), else the main listener.
fn readyz_url(config: &Config) -> anyhow::Result<String> {
    if let Some(addr) = config.metrics_listen {
        return Ok(format!("http://{}/readyz", local(addr)));
    }
    if config.tls_cert.is_some() {
        anyhow::bail!(
            "the server speaks HTTPS on {}; set metrics_listen (a plain-HTTP address such as 127.0.0.1:9090) for health checks, or pass --url",
            config.listen
        );
    }
    Ok(format!("http://{}/readyz", local(config.listen)))
}

/// A minimal HTTP/1.1 GET over plain TCP: the status code and the body's first bytes.
/// (The binary needs no HTTP client for anything else.)
pub async fn http_get(url: &str, timeout: Duration) -> anyhow::Result<(u16, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("{url:?}: only http:// URLs can be checked (use metrics_listen with HTTPS)"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let target = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(&target).await?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: roster-healthcheck\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.take(64 * 1024).read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("{url}: no answer within {}s", timeout.as_secs()))?
        .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .strip_prefix("HTTP/1.")
        .and_then(|s| s.get(2..5))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| anyhow::anyhow!("{url}: not an HTTP response"))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.trim().to_string()).unwrap_or_default();
    Ok((status, body))
}

pub async fn healthcheck(config: &Config, args: HealthcheckArgs) -> anyhow::Result<()> {
    let url = match args.url {
        Some(url) => url,
        None => readyz_url(config)?,
    };
    match http_get(&url, Duration::from_secs(args.timeout.max(1))).await? {
        (200, _) => {
            println!("ready: {url}");
            Ok(())
        }
        (status, body) => anyhow::bail!("not ready: {url} answered {status} {body}"),
    }
}

/// The SQLite file of the configured database, or why there is none.
fn sqlite_file(config: &Config, command: &str) -> anyhow::Result<PathBuf> {
    let url = config.database_url();
    if !url.starts_with("sqlite:") {
        anyhow::bail!(
            "roster {command} works on SQLite databases; {} is PostgreSQL: use pg_dump and pg_restore (docs/operations.md)",
            redact(&url)
        );
    }
    roster_store::sqlite_path(&url).ok_or_else(|| anyhow::anyhow!("{url} names no database file"))
}

fn info_json(info: &roster_store::SqliteFileInfo) -> serde_json::Value {
    json!({
        "schema_version": info.schema_version,
        "tenants": info.tenants,
        "users": info.users,
        "groups": info.groups,
    })
}

pub async fn backup(config: &Config, args: BackupArgs) -> anyhow::Result<()> {
    let source = sqlite_file(config, "backup")?;
    if !source.is_file() {
        anyhow::bail!("there is no database at {} to back up", source.display());
    }
    let started = std::time::Instant::now();
    let info = roster_store::backup_sqlite(&source, &args.file, args.force).await?;
    let bytes = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    if args.json {
        let mut out = info_json(&info);
        out["file"] = json!(args.file.display().to_string());
        out["bytes"] = json!(bytes);
        println!("{out}");
    } else {
        println!(
            "backed up {} to {} in {:.1}s: {bytes} bytes, schema version {}, {} tenants, {} users, {} groups",
            source.display(),
            args.file.display(),
            started.elapsed().as_secs_f64(),
            info.schema_version,
            info.tenants,
            info.users,
            info.groups
        );
    }
    Ok(())
}

/// Whether a Roster server answers on this installation's addresses.
async fn running_server(config: &Config) -> Option<String> {
    let addrs = [Some(config.listen), config.metrics_listen];
    for addr in addrs.into_iter().flatten() {
        let url = format!("http://{}/healthz", local(addr));
        if let Ok((200, body)) = http_get(&url, Duration::from_secs(1)).await
            && body == "ok"
        {
            return Some(url);
        }
    }
    None
}

pub async fn restore(config: &Config, args: RestoreArgs) -> anyhow::Result<()> {
    let target = sqlite_file(config, "restore")?;
    if let Some(url) = running_server(config).await {
        anyhow::bail!(
            "a Roster server answers at {url}; stop it before restoring (restore replaces the database file under it)"
        );
    }
    let restored = roster_store::restore_sqlite(&args.file, &target, args.force).await?;
    // Bring the schema up to date now, so a problem shows here rather than at the next start.
    let url = config.database_url();
    let store = roster_store::SqlStore::connect(&url, &roster_store::StoreOptions::default())
        .await
        .map_err(|e| anyhow::anyhow!("the restored database does not open: {e}"))?;
    store.ready().await?;
    store.close().await;
    if args.json {
        let mut out = info_json(&restored.info);
        out["database"] = json!(target.display().to_string());
        out["migrated_to"] = json!(restored.info.latest_version);
        out["previous"] = json!(restored.previous.as_ref().map(|p| p.display().to_string()));
        println!("{out}");
    } else {
        println!(
            "restored {} into {}: {} tenants, {} users, {} groups; schema version {} brought to {}",
            args.file.display(),
            target.display(),
            restored.info.tenants,
            restored.info.users,
            restored.info.groups,
            restored.info.schema_version,
            restored.info.latest_version
        );
        if let Some(previous) = &restored.previous {
            println!("the database it replaced is kept at {}", previous.display());
        }
    }
    Ok(())
}

/// A value as TOML shows it (JSON scalars are valid TOML, strings included).
fn toml_value(v: &serde_json::Value) -> String {
    v.to_string()
}

pub fn config(
    file: Option<&Path>,
    overrides: &Overrides,
    warnings: &[String],
    cmd: ConfigCommand,
) -> anyhow::Result<()> {
    let ConfigCommand::Check { json } = cmd;
    let figment = Config::figment(file, overrides)?;
    let config = Config::from_figment(&figment)?;
    let values = config.redacted();
    let source = |key: &str| -> String {
        let from_file = |file_key: &str, path: &Option<PathBuf>| {
            path.as_ref().map(|p| format!("{file_key} {}", p.display())).unwrap_or_default()
        };
        match key {
            "database_url" if config.database_url_file.is_some() => {
                from_file("database_url_file", &config.database_url_file)
            }
            "admin_password" if config.admin_password_file.is_some() => {
                from_file("admin_password_file", &config.admin_password_file)
            }
            _ => crate::config::source_of(&figment, key),
        }
    };
    if json {
        let sources: serde_json::Map<String, serde_json::Value> =
            values.keys().map(|k| (k.clone(), json!(source(k)))).collect();
        let out = json!({
            "config": values,
            "sources": sources,
            "database": redact(&config.database_url()),
            "public_url": config.public_url(),
            "warnings": warnings,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("# The effective configuration (secrets redacted); each line says where its value came from.");
    println!("# database: {}", redact(&config.database_url()));
    println!("# public URL: {}", config.public_url());
    for (key, value) in &values {
        if value.is_null() {
            println!("# {key} is not set");
        } else {
            println!("{key} = {}  # {}", toml_value(value), source(key));
        }
    }
    for w in warnings {
        println!("# warning: {w}");
    }
    println!("# configuration OK");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_addresses_are_checked_through_loopback() {
        assert_eq!(local("0.0.0.0:8080".parse().unwrap()).to_string(), "127.0.0.1:8080");
        assert_eq!(local("[::]:8080".parse().unwrap()).to_string(), "[::1]:8080");
        assert_eq!(local("10.0.0.5:8080".parse().unwrap()).to_string(), "10.0.0.5:8080");
    }

    #[test]
    fn the_health_check_prefers_the_metrics_listener_and_refuses_https() {
        let mut c = Config::default();
        assert_eq!(readyz_url(&c).unwrap(), "http://127.0.0.1:8080/readyz");
        c.tls_cert = Some("cert.pem".into());
        assert!(readyz_url(&c).unwrap_err().to_string().contains("metrics_listen"));
        c.metrics_listen = Some("0.0.0.0:9090".parse().unwrap());
        assert_eq!(readyz_url(&c).unwrap(), "http://127.0.0.1:9090/readyz");
    }
}
