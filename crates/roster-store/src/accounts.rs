//! Administrator accounts, their sessions, and admin API keys.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use roster_core::audit::AuditEntry;
use roster_core::store::{AdminRecord, ApiKeyRecord, KeyScope, SessionRecord};
use roster_core::{Error, Result};

use crate::journal::insert_audit;
use crate::sql::{from_nanos, nanos};
use crate::{SqlStore, db_err, is_unique_violation};

fn admin_from_row(row: &AnyRow) -> Result<AdminRecord> {
    Ok(AdminRecord {
        id: row.try_get("id").map_err(db_err)?,
        username: row.try_get("username").map_err(db_err)?,
        password_hash: row.try_get("password_hash").map_err(db_err)?,
        created_at: from_nanos(row.try_get("created_at").map_err(db_err)?),
    })
}

fn key_from_row(row: &AnyRow) -> Result<ApiKeyRecord> {
    let scope: String = row.try_get("scope").map_err(db_err)?;
    Ok(ApiKeyRecord {
        id: row.try_get("id").map_err(db_err)?,
        name: row.try_get("name").map_err(db_err)?,
        secret_hash: row.try_get("secret_hash").map_err(db_err)?,
        tenant: row.try_get("tenant_id").map_err(db_err)?,
        scope: KeyScope::parse(&scope).ok_or_else(|| Error::storage(format!("unknown key scope {scope:?}")))?,
        created_at: from_nanos(row.try_get("created_at").map_err(db_err)?),
        created_by: row.try_get("created_by").map_err(db_err)?,
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at").map_err(db_err)?.map(from_nanos),
    })
}

const KEY_COLUMNS: &str = "id, name, secret_hash, tenant_id, scope, created_at, created_by, last_used_at";

impl SqlStore {
    pub(crate) async fn admin_count_impl(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM admins").fetch_one(&self.read).await.map_err(db_err)
    }

    pub(crate) async fn create_admin_impl(
        &self,
        username: &str,
        password_hash: &str,
        now: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<AdminRecord> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "INSERT INTO admins (username, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             RETURNING id, username, password_hash, created_at",
        )
        .bind(username)
        .bind(password_hash)
        .bind(nanos(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::Conflict(format!("an admin named {username:?} already exists"))
            } else {
                db_err(e)
            }
        })?;
        let admin = admin_from_row(&row)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(admin)
    }

    pub(crate) async fn admin_by_username_impl(&self, username: &str) -> Result<Option<AdminRecord>> {
        let row = sqlx::query("SELECT id, username, password_hash, created_at FROM admins WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.as_ref().map(admin_from_row).transpose()
    }

    pub(crate) async fn admins_impl(&self) -> Result<Vec<AdminRecord>> {
        let rows = sqlx::query("SELECT id, username, password_hash, created_at FROM admins ORDER BY username")
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?;
        rows.iter().map(admin_from_row).collect()
    }

    pub(crate) async fn set_admin_password_impl(
        &self,
        username: &str,
        password_hash: &str,
        now: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE admins SET password_hash = $1, updated_at = $2 WHERE username = $3 RETURNING id",
        )
        .bind(password_hash)
        .bind(nanos(now))
        .bind(username)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(id) = id else { return Ok(false) };
        // A new password ends every session of the old one.
        sqlx::query("DELETE FROM admin_sessions WHERE admin_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) async fn create_session_impl(
        &self,
        admin_id: i64,
        id_hash: Vec<u8>,
        csrf: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        // Expired sessions are swept whenever someone signs in.
        sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
            .bind(nanos(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO admin_sessions (id_hash, admin_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(admin_id)
        .bind(csrf)
        .bind(nanos(now))
        .bind(nanos(expires_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn session_impl(&self, id_hash: &[u8], now: OffsetDateTime) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT a.id, a.username, a.password_hash, a.created_at, s.csrf, s.expires_at \
             FROM admin_sessions s JOIN admins a ON a.id = s.admin_id WHERE s.id_hash = $1 AND s.expires_at > $2",
        )
        .bind(id_hash.to_vec())
        .bind(nanos(now))
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            admin: admin_from_row(&row)?,
            csrf: row.try_get("csrf").map_err(db_err)?,
            expires_at: from_nanos(row.try_get("expires_at").map_err(db_err)?),
        }))
    }

    pub(crate) async fn delete_session_impl(&self, id_hash: &[u8], audit: Option<AuditEntry>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1")
            .bind(id_hash.to_vec())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if let Some(audit) = audit {
            insert_audit(&mut tx, &audit).await?;
        }
        tx.commit().await
    }

    pub(crate) async fn insert_api_key_impl(&self, key: ApiKeyRecord, audit: AuditEntry) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, name, secret_hash, tenant_id, scope, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(key.secret_hash.clone())
        .bind(key.tenant)
        .bind(key.scope.as_str())
        .bind(nanos(key.created_at))
        .bind(&key.created_by)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await
    }

    pub(crate) async fn api_key_impl(&self, id: &str) -> Result<Option<ApiKeyRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub(crate) async fn api_keys_impl(&self) -> Result<Vec<ApiKeyRecord>> {
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id")))
                .fetch_all(&self.read)
                .await
                .map_err(db_err)?;
        rows.iter().map(key_from_row).collect()
    }

    pub(crate) async fn delete_api_key_impl(&self, id: &str, audit: AuditEntry) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let deleted =
            sqlx::query("DELETE FROM api_keys WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(db_err)?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) async fn touch_api_key_impl(
        &self,
        id: &str,
        now: OffsetDateTime,
        min_interval: time::Duration,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(nanos(now))
        .bind(id)
        .bind(nanos(now - min_interval))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await
    }
}
