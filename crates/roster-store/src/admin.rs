//! Tenants, SCIM tokens and custom attribute definitions.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use roster_core::audit::AuditEntry;
use roster_core::model::{Idp, Tenant, TenantId, TenantSettings, TokenRecord, TokenStatus};
use roster_core::store::{NewToken, TokenChange};
use roster_core::{Error, Result};
use roster_scim::schema::{CustomAttribute, CustomAttributeType};

use crate::journal::insert_audit;
use crate::sql::{from_nanos, nanos};
use crate::{SqlStore, db_err, is_unique_violation};

const TENANT_COLUMNS: &str = "t.id, t.slug, t.settings, t.schema_version, t.created_at";
const TOKEN_COLUMNS: &str =
    "k.id, k.tenant_id, k.idp, k.name, k.secret_hash, k.status, k.created_at, k.expires_at, k.last_used_at";

pub(crate) fn tenant_from_row(row: &AnyRow) -> Result<Tenant> {
    let settings: String = row.try_get("settings").map_err(db_err)?;
    Ok(Tenant {
        id: row.try_get("id").map_err(db_err)?,
        slug: row.try_get("slug").map_err(db_err)?,
        settings: serde_json::from_str::<TenantSettings>(&settings)
            .map_err(|e| Error::storage(format!("tenant settings: {e}")))?,
        schema_version: row.try_get("schema_version").map_err(db_err)?,
        created_at: from_nanos(row.try_get("created_at").map_err(db_err)?),
    })
}

fn token_from_row(row: &AnyRow, prefix: &str) -> Result<TokenRecord> {
    let col = |name: &str| format!("{prefix}{name}");
    let idp: String = row.try_get(col("idp").as_str()).map_err(db_err)?;
    let status: String = row.try_get(col("status").as_str()).map_err(db_err)?;
    let opt_time = |name: &str| -> Result<Option<OffsetDateTime>> {
        let v: Option<i64> = row.try_get(col(name).as_str()).map_err(db_err)?;
        Ok(v.map(from_nanos))
    };
    Ok(TokenRecord {
        id: row.try_get(col("id").as_str()).map_err(db_err)?,
        tenant_id: row.try_get(col("tenant_id").as_str()).map_err(db_err)?,
        idp: Idp::parse(&idp).ok_or_else(|| Error::storage(format!("unknown IdP {idp:?} in token row")))?,
        name: row.try_get(col("name").as_str()).map_err(db_err)?,
        secret_hash: row.try_get(col("secret_hash").as_str()).map_err(db_err)?,
        status: TokenStatus::parse(&status)
            .ok_or_else(|| Error::storage(format!("unknown token status {status:?}")))?,
        created_at: from_nanos(row.try_get(col("created_at").as_str()).map_err(db_err)?),
        expires_at: opt_time("expires_at")?,
        last_used_at: opt_time("last_used_at")?,
    })
}

impl SqlStore {
    pub(crate) async fn create_tenant_impl(
        &self,
        slug: &str,
        settings: &TenantSettings,
        now: OffsetDateTime,
    ) -> Result<Tenant> {
        let settings_json = serde_json::to_string(settings).map_err(Error::storage)?;
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "INSERT INTO tenants (slug, settings, schema_version, created_at) VALUES ($1, $2, 1, $3) \
             RETURNING id, slug, settings, schema_version, created_at",
        )
        .bind(slug)
        .bind(settings_json)
        .bind(nanos(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) { Error::Conflict(format!("tenant {slug:?} already exists")) } else { db_err(e) }
        })?;
        let tenant = tenant_from_row(&row)?;
        tx.commit().await?;
        Ok(tenant)
    }

    pub(crate) async fn tenant_by_slug_impl(&self, slug: &str) -> Result<Option<Tenant>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TENANT_COLUMNS} FROM tenants t WHERE t.slug = $1")))
            .bind(slug)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    pub(crate) async fn tenants_impl(&self) -> Result<Vec<Tenant>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TENANT_COLUMNS} FROM tenants t ORDER BY t.slug")))
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?;
        rows.iter().map(tenant_from_row).collect()
    }

    pub(crate) async fn update_tenant_settings_impl(
        &self,
        tenant: TenantId,
        settings: &TenantSettings,
    ) -> Result<Tenant> {
        let settings_json = serde_json::to_string(settings).map_err(Error::storage)?;
        // A new vendor segment is a new custom schema URN: cached registries must refresh.
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "UPDATE tenants SET schema_version = schema_version + \
             (CASE WHEN settings = $1 THEN 0 ELSE 1 END), settings = $1 WHERE id = $2 \
             RETURNING id, slug, settings, schema_version, created_at",
        )
        .bind(settings_json)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::NotFound("no such tenant".into()))?;
        let tenant = tenant_from_row(&row)?;
        tx.commit().await?;
        Ok(tenant)
    }

    pub(crate) async fn insert_token_impl(
        &self,
        tenant: TenantId,
        token: NewToken,
        max_tokens: u32,
        audit: AuditEntry,
    ) -> Result<TokenRecord> {
        let mut tx = self.writer.begin().await?;
        // Lock the tenant row so concurrent creates count one after the other.
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT id FROM tenants WHERE id = $1{}", self.backend.for_update())))
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::NotFound("no such tenant".into()))?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scim_tokens WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if count >= i64::from(max_tokens) {
            return Err(Error::Conflict(format!(
                "this tenant already has {count} SCIM tokens, the most allowed ({max_tokens}); \
                 remove one (or renew it instead of creating a new one) to free a slot"
            )));
        }
        sqlx::query(
            "INSERT INTO scim_tokens (id, tenant_id, idp, name, secret_hash, status, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, 'active', $6, $7)",
        )
        .bind(&token.id)
        .bind(tenant)
        .bind(token.idp.as_str())
        .bind(&token.name)
        .bind(token.secret_hash.clone())
        .bind(nanos(token.created_at))
        .bind(token.expires_at.map(nanos))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(TokenRecord {
            id: token.id,
            tenant_id: tenant,
            idp: token.idp,
            name: token.name,
            secret_hash: token.secret_hash,
            status: TokenStatus::Active,
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: None,
        })
    }

    pub(crate) async fn change_token_impl(
        &self,
        tenant: TenantId,
        token_id: &str,
        change: TokenChange,
        audit: AuditEntry,
    ) -> Result<Option<TokenRecord>> {
        let mut tx = self.writer.begin().await?;
        let columns = TOKEN_COLUMNS.replace("k.", "");
        let row = match &change {
            TokenChange::Status(status) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE scim_tokens SET status = $1 WHERE tenant_id = $2 AND id = $3 RETURNING {columns}"
            )))
            .bind(status.as_str())
            .bind(tenant)
            .bind(token_id)
            .fetch_optional(&mut *tx)
            .await,
            TokenChange::Renew { secret_hash, expires_at } => sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE scim_tokens SET secret_hash = $1, expires_at = $2 WHERE tenant_id = $3 AND id = $4 RETURNING {columns}"
            )))
            .bind(secret_hash.clone())
            .bind(expires_at.map(nanos))
            .bind(tenant)
            .bind(token_id)
            .fetch_optional(&mut *tx)
            .await,
            TokenChange::Delete => sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM scim_tokens WHERE tenant_id = $1 AND id = $2 RETURNING {columns}"
            )))
            .bind(tenant)
            .bind(token_id)
            .fetch_optional(&mut *tx)
            .await,
        }
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let token = token_from_row(&row, "")?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(Some(token))
    }

    pub(crate) async fn token_with_tenant_impl(&self, token_id: &str) -> Result<Option<(TokenRecord, Tenant)>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS}, {TENANT_COLUMNS} FROM scim_tokens k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = $1"
        )))
        .bind(token_id)
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        // Column names repeat (id, created_at) across the two tables; read tokens by position.
        let token = TokenRecord {
            id: row.try_get(0).map_err(db_err)?,
            tenant_id: row.try_get(1).map_err(db_err)?,
            idp: {
                let s: String = row.try_get(2).map_err(db_err)?;
                Idp::parse(&s).ok_or_else(|| Error::storage(format!("unknown IdP {s:?}")))?
            },
            name: row.try_get(3).map_err(db_err)?,
            secret_hash: row.try_get(4).map_err(db_err)?,
            status: {
                let s: String = row.try_get(5).map_err(db_err)?;
                TokenStatus::parse(&s).ok_or_else(|| Error::storage(format!("unknown token status {s:?}")))?
            },
            created_at: from_nanos(row.try_get(6).map_err(db_err)?),
            expires_at: row.try_get::<Option<i64>, _>(7).map_err(db_err)?.map(from_nanos),
            last_used_at: row.try_get::<Option<i64>, _>(8).map_err(db_err)?.map(from_nanos),
        };
        let settings: String = row.try_get(11).map_err(db_err)?;
        let tenant = Tenant {
            id: row.try_get(9).map_err(db_err)?,
            slug: row.try_get(10).map_err(db_err)?,
            settings: serde_json::from_str(&settings).map_err(|e| Error::storage(format!("tenant settings: {e}")))?,
            schema_version: row.try_get(12).map_err(db_err)?,
            created_at: from_nanos(row.try_get(13).map_err(db_err)?),
        };
        Ok(Some((token, tenant)))
    }

    pub(crate) async fn tokens_impl(&self, tenant: TenantId) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM scim_tokens k WHERE k.tenant_id = $1 ORDER BY k.created_at, k.id"
        )))
        .bind(tenant)
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| token_from_row(r, "")).collect()
    }

    pub(crate) async fn set_token_status_impl(
        &self,
        tenant: TenantId,
        token_id: &str,
        status: TokenStatus,
    ) -> Result<Option<TokenRecord>> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE scim_tokens SET status = $1 WHERE tenant_id = $2 AND id = $3 RETURNING {}",
            TOKEN_COLUMNS.replace("k.", "")
        )))
        .bind(status.as_str())
        .bind(tenant)
        .bind(token_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let token = row.as_ref().map(|r| token_from_row(r, "")).transpose()?;
        tx.commit().await?;
        Ok(token)
    }

    pub(crate) async fn touch_token_impl(
        &self,
        token_id: &str,
        now: OffsetDateTime,
        min_interval: time::Duration,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE scim_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(nanos(now))
        .bind(token_id)
        .bind(nanos(now - min_interval))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await
    }

    pub(crate) async fn custom_attributes_impl(&self, tenant: TenantId) -> Result<Vec<CustomAttribute>> {
        let rows = sqlx::query(
            "SELECT name, type, multi_valued, description FROM custom_attributes WHERE tenant_id = $1 ORDER BY created_at, name_key",
        )
        .bind(tenant)
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let ty: String = row.try_get("type").map_err(db_err)?;
                Ok(CustomAttribute {
                    name: row.try_get("name").map_err(db_err)?,
                    ty: CustomAttributeType::parse(&ty)
                        .ok_or_else(|| Error::storage(format!("unknown attribute type {ty:?}")))?,
                    multi_valued: row.try_get::<i64, _>("multi_valued").map_err(db_err)? != 0,
                    description: row.try_get("description").map_err(db_err)?,
                })
            })
            .collect()
    }
}

impl SqlStore {
    pub(crate) async fn change_tenant_settings_impl(
        &self,
        tenant: TenantId,
        settings: &TenantSettings,
        registry: &roster_scim::Registry,
        rename: Option<(String, String)>,
        audit: AuditEntry,
        now: OffsetDateTime,
    ) -> Result<Tenant> {
        let settings_json = serde_json::to_string(settings).map_err(Error::storage)?;
        let mut tx = self.writer.begin().await?;
        // Users first, the tenant row last: SCIM writes lock a user and then the tenant row (event
        // sequence), so taking them in the same order here cannot deadlock with them on PostgreSQL.
        if let Some((old, new)) = rename {
            self.rename_extension(&mut tx, tenant, registry, &old, &new, now).await?;
        }
        let row = sqlx::query(
            "UPDATE tenants SET schema_version = schema_version + 1, settings = $1 WHERE id = $2 \
             RETURNING id, slug, settings, schema_version, created_at",
        )
        .bind(settings_json)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::NotFound("no such tenant".into()))?;
        let updated = tenant_from_row(&row)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(updated)
    }

    pub(crate) async fn define_custom_attribute_impl(
        &self,
        tenant: TenantId,
        attribute: &CustomAttribute,
        now: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO custom_attributes (tenant_id, name, name_key, type, multi_valued, description, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(&attribute.name)
        .bind(attribute.name.to_ascii_lowercase())
        .bind(attribute.ty.as_str())
        .bind(i64::from(attribute.multi_valued))
        .bind(&attribute.description)
        .bind(nanos(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::Conflict(format!("a custom attribute named {:?} already exists", attribute.name))
            } else {
                db_err(e)
            }
        })?;
        sqlx::query("UPDATE tenants SET schema_version = schema_version + 1 WHERE id = $1")
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn remove_custom_attribute_impl(
        &self,
        tenant: TenantId,
        urn: &str,
        name: &str,
        registry: &roster_scim::Registry,
        now: OffsetDateTime,
        audit: AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let removed = sqlx::query("DELETE FROM custom_attributes WHERE tenant_id = $1 AND name_key = $2")
            .bind(tenant)
            .bind(name.to_ascii_lowercase())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if removed == 0 {
            return Ok(false);
        }
        self.purge_extension_attribute(&mut tx, tenant, registry, urn, name, now).await?;
        sqlx::query("UPDATE tenants SET schema_version = schema_version + 1 WHERE id = $1")
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}
