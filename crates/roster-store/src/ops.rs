//! What operators need from storage: the pools' state and per-tenant counts for metrics,
//! online SQLite backups (`VACUUM INTO`, a consistent snapshot taken inside one read
//! transaction, so writers carry on meanwhile), and checking and restoring such a backup.
//! PostgreSQL is backed up with its own tools (`pg_dump`), see docs/operations.md.

use std::path::{Path, PathBuf};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyPool, ConnectOptions, Connection, Row, SqliteConnection};

use roster_core::store::{PoolStats, TenantCounts};
use roster_core::{Error, Result};

use crate::sql::kind_code;
use crate::{Backend, SQLITE_MIGRATIONS, SqlStore, db_err};

fn stats(name: &'static str, pool: &AnyPool) -> PoolStats {
    let size = pool.size();
    PoolStats {
        pool: name,
        size,
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size),
        max: pool.options().get_max_connections(),
    }
}

impl SqlStore {
    pub(crate) fn pool_stats_impl(&self) -> Vec<PoolStats> {
        match self.backend {
            Backend::Sqlite => vec![stats("read", &self.read), stats("write", self.writer.pool())],
            Backend::Postgres => vec![stats("shared", &self.read)],
        }
    }

    /// One grouped scan of the `(tenant_id, kind, pk)` index.
    pub(crate) async fn resource_counts_impl(&self) -> Result<Vec<TenantCounts>> {
        let tenants = self.tenants_impl().await?;
        let rows = sqlx::query("SELECT tenant_id, kind, COUNT(*) AS n FROM resources GROUP BY tenant_id, kind")
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?;
        let mut counts: Vec<TenantCounts> =
            tenants.iter().map(|t| TenantCounts { tenant: t.slug.clone(), users: 0, groups: 0 }).collect();
        for row in rows {
            let tenant: i64 = row.try_get("tenant_id").map_err(db_err)?;
            let kind: i64 = row.try_get("kind").map_err(db_err)?;
            let n: i64 = row.try_get("n").map_err(db_err)?;
            let Some(i) = tenants.iter().position(|t| t.id == tenant) else { continue };
            let n = u64::try_from(n).unwrap_or(0);
            if kind == kind_code(roster_scim::ResourceKind::User) {
                counts[i].users = n;
            } else if kind == kind_code(roster_scim::ResourceKind::Group) {
                counts[i].groups = n;
            }
        }
        Ok(counts)
    }
}

/// The file of a `sqlite://PATH` (or `sqlite:PATH`) URL, without its `?options`.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// What a SQLite database file holds, as [`inspect_sqlite`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteFileInfo {
    /// The newest migration applied to it.
    pub schema_version: i64,
    /// The newest migration this binary knows.
    pub latest_version: i64,
    pub tenants: u64,
    pub users: u64,
    pub groups: u64,
}

async fn open(path: &Path, read_only: bool) -> Result<SqliteConnection> {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .create_if_missing(false)
        .busy_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| Error::storage(format!("cannot open {}: {e}", path.display())))
}

async fn count(conn: &mut SqliteConnection, sql: &'static str) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *conn).await.map_err(db_err)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Opens a SQLite file read-only, runs `PRAGMA integrity_check`, and reads its schema
/// version and size. Fails unless the file is an intact Roster database.
pub async fn inspect_sqlite(path: &Path) -> Result<SqliteFileInfo> {
    if !path.is_file() {
        return Err(Error::Invalid(format!("{} is not a file", path.display())));
    }
    let mut conn = open(path, true).await?;
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| Error::Invalid(format!("{} is not a SQLite database: {e}", path.display())))?;
    if problems.iter().any(|p| p != "ok") {
        return Err(Error::Invalid(format!("{} fails the integrity check: {}", path.display(), problems.join("; "))));
    }
    let schema_version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| Error::Invalid(format!("{} is not a Roster database (no migrations table)", path.display())))?;
    let info = SqliteFileInfo {
        schema_version: schema_version.unwrap_or(0),
        latest_version: SQLITE_MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0),
        tenants: count(&mut conn, "SELECT COUNT(*) FROM tenants").await?,
        users: count(&mut conn, "SELECT COUNT(*) FROM resources WHERE kind = 1").await?,
        groups: count(&mut conn, "SELECT COUNT(*) FROM resources WHERE kind = 2").await?,
    };
    let _ = conn.close().await;
    Ok(info)
}

/// A sibling path of `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(unix)]
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn owner_only(_: &Path) -> std::io::Result<()> {
    Ok(())
}

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let msg = format!("{what} {}", path.display());
    move |e| Error::storage(format!("{msg}: {e}"))
}

/// Writes a consistent snapshot of the live SQLite database `source` to `target` while
/// other processes keep reading and writing it. `VACUUM INTO` runs in one read transaction
/// (WAL mode lets writers continue), so the copy holds exactly the writes committed before
/// it started. It goes to a temporary sibling first, is checked with
/// `PRAGMA integrity_check`, made readable by its owner only (it holds token and password
/// hashes), and only then renamed to `target`: a half-written backup never has the
/// target's name. An existing `target` is refused unless `replace`.
pub async fn backup_sqlite(source: &Path, target: &Path, replace: bool) -> Result<SqliteFileInfo> {
    if target.exists() && !replace {
        return Err(Error::Conflict(format!("{} exists; pass --force to overwrite it", target.display())));
    }
    if !source.is_file() {
        return Err(Error::NotFound(format!("no database at {}", source.display())));
    }
    let tmp = sibling(target, ".partial");
    let _ = std::fs::remove_file(&tmp);
    let mut conn = open(source, true).await?;
    let tmp_text = tmp.to_str().ok_or_else(|| Error::Invalid(format!("{} is not UTF-8", tmp.display())))?;
    let vacuum = sqlx::query("VACUUM INTO ?1").bind(tmp_text).execute(&mut conn).await;
    let _ = conn.close().await;
    if let Err(e) = vacuum {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::storage(format!("backup failed: {e}")));
    }
    let checked = async {
        owner_only(&tmp).map_err(io("cannot set permissions of", &tmp))?;
        let info = inspect_sqlite(&tmp).await?;
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io("cannot sync", &tmp))?;
        std::fs::rename(&tmp, target).map_err(io("cannot rename the backup to", target))?;
        Ok(info)
    }
    .await;
    if checked.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    checked
}

/// What [`restore_sqlite`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub info: SqliteFileInfo,
    /// Where the database that was replaced was moved (with `replace`).
    pub previous: Option<PathBuf>,
}

/// Whether a database file exists and holds anything.
pub fn sqlite_file_in_use(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

/// Puts the backup `backup` in place as the database `target`. The server must be
/// stopped: the file is replaced under it. The backup is checked first (integrity, and a
/// schema no newer than this binary's). A non-empty `target` is refused unless `replace`;
/// then it is checkpointed (its WAL folded in) and kept beside it as
/// `<name>.pre-restore-<unix time>`, never deleted. The next start (or `roster migrate`)
/// brings the restored schema up to date.
pub async fn restore_sqlite(backup: &Path, target: &Path, replace: bool) -> Result<Restored> {
    let info = inspect_sqlite(backup).await?;
    if info.schema_version > info.latest_version {
        return Err(Error::Invalid(format!(
            "the backup is at schema version {} but this roster knows versions up to {}: restore it with a newer roster",
            info.schema_version, info.latest_version
        )));
    }
    let mut previous = None;
    if sqlite_file_in_use(target) {
        if !replace {
            return Err(Error::Conflict(format!(
                "{} is not empty; pass --force to replace it (it is kept as a .pre-restore file)",
                target.display()
            )));
        }
        // Fold the WAL into the main file, so moving the main file moves everything.
        let mut conn = SqliteConnectOptions::new()
            .filename(target)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10))
            .connect()
            .await
            .map_err(|e| Error::storage(format!("cannot open {}: {e}", target.display())))?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await.map_err(db_err)?;
        let _ = conn.close().await;
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let moved = sibling(target, &format!(".pre-restore-{stamp}"));
        std::fs::rename(target, &moved).map_err(io("cannot move aside", target))?;
        previous = Some(moved);
    }
    for stale in ["-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(sibling(target, stale));
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    }
    let tmp = sibling(target, ".restoring");
    std::fs::copy(backup, &tmp).map_err(io("cannot copy the backup to", &tmp))?;
    owner_only(&tmp).map_err(io("cannot set permissions of", &tmp))?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io("cannot sync", &tmp))?;
    std::fs::rename(&tmp, target).map_err(io("cannot rename the restored database to", target))?;
    Ok(Restored { info, previous })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_come_from_urls() {
        assert_eq!(sqlite_path("sqlite://./data/roster.db"), Some(PathBuf::from("./data/roster.db")));
        assert_eq!(
            sqlite_path("sqlite:///var/lib/roster/roster.db?mode=rwc"),
            Some("/var/lib/roster/roster.db".into())
        );
        assert_eq!(sqlite_path("sqlite:roster.db"), Some(PathBuf::from("roster.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }
}
