//! Configuration: built-in defaults, then a TOML file (`--config`), then `ROSTER_*`
//! environment variables, then command-line flags, each overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where the embedded SQLite database lives (`roster.db` inside).
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; overrides `data_dir`.
    pub database_url: Option<String>,
    /// Where `roster serve` listens.
    pub listen: SocketAddr,
    /// The URL clients reach Roster at; defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// The largest request body outside `/Bulk`, in bytes.
    pub max_body_bytes: usize,
    /// Database connections to hold.
    pub max_connections: u32,
    /// `pretty` or `json`.
    pub log_format: String,
    /// Days the provisioning log keeps a request.
    pub provisioning_log_retention_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./roster-data"),
            database_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            max_body_bytes: 1024 * 1024,
            max_connections: 8,
            log_format: "pretty".into(),
            provisioning_log_retention_days: 30,
        }
    }
}

/// Values given on the command line (only the ones set override).
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
}

impl Config {
    /// Loads the layered configuration.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                anyhow::bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        let config: Config = figment
            .merge(Env::prefixed("ROSTER_").only(&[
                "data_dir",
                "database_url",
                "listen",
                "public_url",
                "max_body_bytes",
                "max_connections",
                "log_format",
                "provisioning_log_retention_days",
            ]))
            .merge(Serialized::defaults(overrides))
            .extract()?;
        Ok(config)
    }

    /// The database URL: the explicit one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("roster.db").display()),
        }
    }

    /// The public base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_point_at_the_data_dir_and_local_listen_address() {
        let c = Config::default();
        assert_eq!(c.database_url(), "sqlite://./roster-data/roster.db");
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn flags_override_files() {
        let dir = std::env::temp_dir().join(format!("roster-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("roster.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\npublic_url = \"https://scim.example.com/\"\n").unwrap();
        let c = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.public_url(), "https://scim.example.com");
        let o = Overrides { listen: Some("127.0.0.1:7000".parse().unwrap()), ..Default::default() };
        assert_eq!(Config::load(Some(&file), &o).unwrap().listen.port(), 7000);
        assert!(Config::load(Some(&dir.join("missing.toml")), &Overrides::default()).is_err());
    }
}
