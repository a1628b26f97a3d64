//! Configuration: built-in defaults, then a TOML file (`--config`), then `ROSTER_*`
//! environment variables, then command-line flags, each overriding the one before.
//!
//! Every key is a TOML key and an environment variable (`listen` is `ROSTER_LISTEN`).
//! Secrets can come from files instead (`database_url_file` / `ROSTER_DATABASE_URL_FILE`,
//! `admin_password_file` / `ROSTER_ADMIN_PASSWORD_FILE`), for Docker and systemd
//! credentials. Unknown keys in the file are errors; unknown `ROSTER_*` variables are
//! warnings (see [`unknown_env_vars`]). docs/configuration.md lists every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

/// A secret setting: never printed by `Debug`, redacted by `roster config check`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// Which log lines to write, in `RUST_LOG` syntax (`info`, `debug`, `info,roster_http=debug`).
    pub log: String,
    /// Days the provisioning log keeps a request.
    pub provisioning_log_retention_days: u32,
    /// Days an event (RFC 9967) is kept once every stream of its tenant has it; events a
    /// stream still needs are kept until it has them.
    pub event_retention_days: u32,
    /// Seconds an event push (RFC 8935) may take before it counts as failed and is retried.
    pub event_push_timeout_secs: u64,
    /// Consecutive failed pushes after which a stream is paused and flagged.
    pub event_push_max_attempts: u32,
    /// Seconds an event poll (RFC 8936) waits for events before answering empty.
    pub event_long_poll_secs: u64,
    /// Seconds a request may take before it is stopped with a 503.
    pub request_timeout_secs: u64,
    /// Seconds a client may take to send a request's headers (also the keep-alive idle time).
    pub header_read_timeout_secs: u64,
    /// SCIM requests a second per token (0: no limit).
    pub rate_limit_per_token: u32,
    /// Requests a token may make at once above its rate.
    pub rate_limit_token_burst: u32,
    /// SCIM requests a second per tenant, all its tokens together (0: no limit).
    pub rate_limit_per_tenant: u32,
    /// Requests a tenant may make at once above its rate.
    pub rate_limit_tenant_burst: u32,
    /// PEM certificate chain for built-in HTTPS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for built-in HTTPS (with `tls_cert`).
    pub tls_key: Option<PathBuf>,
    /// A separate plain-HTTP address for `/metrics` (and `/healthz`, `/readyz`). Unset:
    /// `/metrics` is served on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// A file whose content is `database_url` (it may hold a password).
    pub database_url_file: Option<PathBuf>,
    /// The password of the first administrator, used once: when the database has none.
    pub admin_password: Option<Secret>,
    /// A file whose content is `admin_password`.
    pub admin_password_file: Option<PathBuf>,
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
            log: "info,sqlx=warn".into(),
            provisioning_log_retention_days: 30,
            event_retention_days: 7,
            event_push_timeout_secs: 10,
            event_push_max_attempts: 20,
            event_long_poll_secs: 25,
            request_timeout_secs: 60,
            header_read_timeout_secs: 30,
            rate_limit_per_token: 50,
            rate_limit_token_burst: 100,
            rate_limit_per_tenant: 200,
            rate_limit_tenant_burst: 400,
            tls_cert: None,
            tls_key: None,
            metrics_listen: None,
            database_url_file: None,
            admin_password: None,
            admin_password_file: None,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
}

/// The environment variable prefix.
pub const ENV_PREFIX: &str = "ROSTER_";

/// `ROSTER_*` variables that are not configuration keys but are known: the `--config`
/// flag's variable, and the test suite's (`ROSTER_TEST_*` too).
const OTHER_ENV: &[&str] =
    &["ROSTER_CONFIG", "ROSTER_TEST_POSTGRES_URL", "ROSTER_BROWSER_TESTS", "ROSTER_CRASH_SEED", "ROSTER_FUZZ_CASES"];

/// Keys whose values are secrets: `roster config check` redacts them.
const SECRET_KEYS: &[&str] = &["admin_password"];

/// Every configuration key (the TOML keys; the variables are `ROSTER_` + upper case).
pub fn keys() -> Vec<String> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// `ROSTER_*` environment variables as figment values, unparsed: a password of digits
/// stays a string (figment's own `Env` would make it a number and lose leading zeros).
/// Numbers and booleans are converted by `extract_lossy`. Empty values count as unset.
#[derive(Debug, Clone)]
struct RawEnv(Vec<(String, String)>);

impl RawEnv {
    fn from_process() -> RawEnv {
        let keys = keys();
        let vars = std::env::vars()
            .filter_map(|(name, value)| {
                let key = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
                (keys.contains(&key) && !value.is_empty()).then_some((key, value))
            })
            .collect();
        RawEnv(vars)
    }
}

impl Provider for RawEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable")
            .interpolater(|_: &Profile, k: &[&str]| format!("{ENV_PREFIX}{}", k.join("__").to_ascii_uppercase()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict: Dict = self.0.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect();
        let mut map = Map::new();
        map.insert(Profile::Default, dict);
        Ok(map)
    }
}

impl Config {
    /// The layered sources, before extraction (`roster config check` reads where each
    /// value came from).
    pub fn figment(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Figment> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                anyhow::bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        Ok(figment.merge(RawEnv::from_process()).merge(Serialized::defaults(overrides)))
    }

    /// Loads the layered configuration, reads the `*_file` secrets and checks the values.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        Self::from_figment(&Self::figment(file, overrides)?)
    }

    pub fn from_figment(figment: &Figment) -> anyhow::Result<Config> {
        let mut config: Config = figment.extract_lossy()?;
        config.read_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    /// `database_url_file` and `admin_password_file` become `database_url` and
    /// `admin_password` (the file's content without its trailing newline).
    fn read_secret_files(&mut self) -> anyhow::Result<()> {
        fn read(key: &str, path: &Path) -> anyhow::Result<String> {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {key}_file {}: {e}", path.display()))?;
            let text = text.trim_end_matches(['\r', '\n']).to_string();
            if text.is_empty() {
                anyhow::bail!("{key}_file {} is empty", path.display());
            }
            Ok(text)
        }
        if let Some(path) = &self.database_url_file {
            if self.database_url.is_some() {
                anyhow::bail!("set database_url or database_url_file, not both");
            }
            self.database_url = Some(read("database_url", path)?);
        }
        if let Some(path) = &self.admin_password_file {
            if self.admin_password.is_some() {
                anyhow::bail!("set admin_password or admin_password_file, not both");
            }
            self.admin_password = Some(Secret(read("admin_password", path)?));
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !matches!(self.log_format.as_str(), "pretty" | "json") {
            anyhow::bail!("log_format must be pretty or json, not {:?}", self.log_format);
        }
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.log) {
            anyhow::bail!("log {:?} is not a valid filter: {e}", self.log);
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            anyhow::bail!("public_url must start with http:// or https://, not {url:?}");
        }
        if self.metrics_listen.is_some() && self.metrics_listen == Some(self.listen) {
            anyhow::bail!("metrics_listen must differ from listen");
        }
        Ok(())
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
        let scheme = if self.tls_cert.is_some() { "https" } else { "http" };
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }

    /// The first administrator's password, if configured (an empty one counts as unset).
    pub fn admin_password(&self) -> Option<&str> {
        self.admin_password.as_ref().map(Secret::expose).filter(|p| !p.is_empty())
    }

    /// The configuration as `roster config check` shows it: every key, with passwords
    /// (the admin password, and the one in a database URL) replaced by `***`.
    pub fn redacted(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        for key in SECRET_KEYS {
            if let Some(v) = map.get_mut(*key)
                && !v.is_null()
            {
                *v = serde_json::Value::String("***".into());
            }
        }
        if let Some(serde_json::Value::String(url)) = map.get_mut("database_url") {
            *url = crate::cli::redact(url);
        }
        map
    }
}

/// Warnings for `ROSTER_*` variables that configure nothing (a typo would otherwise be
/// ignored in silence), with the closest known name when there is one.
pub fn unknown_env_vars(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let known: Vec<String> = keys().iter().map(|k| format!("{ENV_PREFIX}{}", k.to_ascii_uppercase())).collect();
    let mut warnings = Vec::new();
    for name in names {
        if !name.starts_with(ENV_PREFIX)
            || name.starts_with("ROSTER_TEST_")
            || known.contains(&name)
            || OTHER_ENV.contains(&name.as_str())
        {
            continue;
        }
        let closest = known
            .iter()
            .map(String::as_str)
            .chain(OTHER_ENV.iter().copied())
            .map(|k| (edit_distance(&name, k), k))
            .min()
            .filter(|(d, _)| *d <= 3);
        warnings.push(match closest {
            Some((_, k)) => format!("unknown environment variable {name} is ignored (did you mean {k}?)"),
            None => format!("unknown environment variable {name} is ignored"),
        });
    }
    warnings.sort();
    warnings
}

/// Levenshtein distance, for the "did you mean" hint.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(current + 1);
            prev = current;
        }
    }
    row[b.len()]
}

/// Where the value of `key` came from: `default`, `file PATH`, `env NAME` or `flag`.
pub fn source_of(figment: &Figment, key: &str) -> String {
    let Some(meta) = figment.find_metadata(key) else { return "default".into() };
    if meta.name.contains("environment") {
        return format!("env {}", meta.interpolate(&Profile::Default, &[key]));
    }
    if let Some(figment::Source::File(path)) = &meta.source {
        return format!("file {}", path.display());
    }
    if meta.name.ends_with("Overrides") { "flag".into() } else { "default".into() }
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
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\npublic_url = \"https://scim.example.com/\"\n").unwrap();
        let c = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.public_url(), "https://scim.example.com");
        let o = Overrides { listen: Some("127.0.0.1:7000".parse().unwrap()), ..Default::default() };
        assert_eq!(Config::load(Some(&file), &o).unwrap().listen.port(), 7000);
        assert!(Config::load(Some(&dir.path().join("missing.toml")), &Overrides::default()).is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(&file, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        let e = Config::load(Some(&file), &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
        std::fs::write(&file, "log_format = \"xml\"\n").unwrap();
        let e = Config::load(Some(&file), &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("pretty or json"), "{e}");
    }

    #[test]
    fn secrets_are_read_from_files_without_the_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("db");
        std::fs::write(&secret, "postgres://roster:s3cret@db/roster\n").unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "0012345\n").unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(
            &file,
            format!("database_url_file = {:?}\nadmin_password_file = {:?}\n", secret.display(), pw.display()),
        )
        .unwrap();
        let c = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(c.database_url(), "postgres://roster:s3cret@db/roster");
        assert_eq!(c.admin_password(), Some("0012345"));
        assert!(!format!("{c:?}").contains("0012345"), "Debug hides the password");
        let shown = serde_json::Value::Object(c.redacted()).to_string();
        assert!(!shown.contains("s3cret") && !shown.contains("0012345"), "{shown}");
        assert!(shown.contains("postgres://roster:***@db/roster"), "{shown}");

        let o = Overrides { database_url: Some("sqlite://x.db".into()), ..Default::default() };
        let e = Config::load(Some(&file), &o).unwrap_err().to_string();
        assert!(e.contains("not both"), "{e}");
        std::fs::write(&file, format!("database_url_file = {:?}\n", dir.path().join("nope").display())).unwrap();
        assert!(Config::load(Some(&file), &Overrides::default()).is_err());
    }

    #[test]
    fn unknown_roster_variables_are_named_with_the_closest_known_one() {
        let names = ["ROSTER_LISTEN", "ROSTER_LISTN", "ROSTER_CONFIG", "PATH", "ROSTER_WHATEVER_ELSE_ENTIRELY"];
        let warnings = unknown_env_vars(names.iter().map(|s| s.to_string()));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("ROSTER_LISTN") && w.contains("did you mean ROSTER_LISTEN?")));
        assert!(warnings.iter().any(|w| w.contains("ROSTER_WHATEVER_ELSE_ENTIRELY") && !w.contains("did you mean")));
        for key in ["database_url_file", "admin_password_file", "metrics_listen", "log", "tls_cert"] {
            assert!(keys().contains(&key.to_string()), "{key}");
        }
    }

    #[test]
    fn every_key_is_documented_in_the_configuration_reference() {
        let doc = include_str!("../../../docs/configuration.md");
        for key in keys() {
            let env = format!("`{ENV_PREFIX}{}`", key.to_ascii_uppercase());
            assert!(doc.contains(&format!("| `{key}` |")) && doc.contains(&env), "docs/configuration.md lacks {key}");
        }
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
