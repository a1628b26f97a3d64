//! The audit trail and the provisioning log: rows appended in the transaction of the
//! change they record, read newest first with id cursors, and pruned by age.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use roster_core::audit::{
    Actor, ActorKind, AuditEntry, AuditEvent, AuditQuery, AuditRecord, ProvisioningEntry, ProvisioningQuery,
    ProvisioningRecord,
};
use roster_core::store::{Journal, JournalRow, Written};
use roster_core::{Error, Result};

use crate::sql::{Arg, Sql, from_nanos, nanos};
use crate::{SqlStore, db_err, query};

pub(crate) async fn insert_audit(conn: &mut AnyConnection, e: &AuditEntry) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (tenant_id, at, actor_kind, actor, event, target, details) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.tenant)
    .bind(nanos(e.at))
    .bind(e.actor.kind.as_str())
    .bind(&e.actor.name)
    .bind(e.event.code())
    .bind(&e.target)
    .bind(&e.details)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn insert_provisioning(conn: &mut AnyConnection, e: &ProvisioningEntry) -> Result<()> {
    sqlx::query(
        "INSERT INTO provisioning_log (tenant_id, at, request_id, token_id, idp, method, path, resource_type, resource_id, \
         summary, notes, status, scim_type, latency_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(e.tenant)
    .bind(nanos(e.at))
    .bind(&e.request_id)
    .bind(e.token_id.clone())
    .bind(e.idp.clone())
    .bind(&e.method)
    .bind(&e.path)
    .bind(e.resource_type.clone())
    .bind(e.resource_id.clone())
    .bind(&e.summary)
    .bind(&e.notes)
    .bind(i64::from(e.status))
    .bind(e.scim_type.clone())
    .bind(e.latency_us)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

fn audit_from_row(row: &AnyRow) -> Result<AuditRecord> {
    let kind: String = row.try_get("actor_kind").map_err(db_err)?;
    let event: String = row.try_get("event").map_err(db_err)?;
    let event = AuditEvent::parse(&event).ok_or_else(|| Error::storage(format!("unknown audit event {event:?}")))?;
    Ok(AuditRecord {
        id: row.try_get("id").map_err(db_err)?,
        tenant: row.try_get("slug").map_err(db_err)?,
        at: from_nanos(row.try_get("at").map_err(db_err)?),
        actor: Actor {
            kind: ActorKind::parse(&kind).ok_or_else(|| Error::storage(format!("unknown actor kind {kind:?}")))?,
            name: row.try_get("actor").map_err(db_err)?,
        },
        event,
        event_name: event.label(),
        target: row.try_get("target").map_err(db_err)?,
        details: row.try_get("details").map_err(db_err)?,
    })
}

fn provisioning_from_row(row: &AnyRow) -> Result<ProvisioningRecord> {
    let status: i64 = row.try_get("status").map_err(db_err)?;
    Ok(ProvisioningRecord {
        id: row.try_get("id").map_err(db_err)?,
        at: from_nanos(row.try_get("at").map_err(db_err)?),
        request_id: row.try_get("request_id").map_err(db_err)?,
        token_id: row.try_get("token_id").map_err(db_err)?,
        idp: row.try_get("idp").map_err(db_err)?,
        method: row.try_get("method").map_err(db_err)?,
        path: row.try_get("path").map_err(db_err)?,
        resource_type: row.try_get("resource_type").map_err(db_err)?,
        resource_id: row.try_get("resource_id").map_err(db_err)?,
        summary: row.try_get("summary").map_err(db_err)?,
        notes: row.try_get("notes").map_err(db_err)?,
        status: u16::try_from(status).unwrap_or(0),
        scim_type: row.try_get("scim_type").map_err(db_err)?,
        latency_us: row.try_get("latency_us").map_err(db_err)?,
    })
}

impl SqlStore {
    /// Writes the journal rows of a change inside its transaction.
    pub(crate) async fn write_journal(
        &self,
        conn: &mut AnyConnection,
        journal: Journal<'_>,
        written: &Written<'_>,
    ) -> Result<()> {
        let Some(build) = journal else { return Ok(()) };
        for row in build(written) {
            match row {
                JournalRow::Audit(e) => insert_audit(conn, &e).await?,
                JournalRow::Provisioning(e) => insert_provisioning(conn, &e).await?,
                JournalRow::Event(e) => crate::events::insert_event(conn, &e).await?,
            }
        }
        Ok(())
    }

    pub(crate) async fn append_audit_impl(&self, entry: &AuditEntry) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_audit(&mut tx, entry).await?;
        tx.commit().await
    }

    pub(crate) async fn append_provisioning_impl(&self, entries: &[ProvisioningEntry]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for entry in entries {
            insert_provisioning(&mut tx, entry).await?;
        }
        tx.commit().await
    }

    pub(crate) async fn audit_events_impl(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let mut sql = Sql::new(self.backend);
        sql.push(
            "SELECT a.id, t.slug, a.at, a.actor_kind, a.actor, a.event, a.target, a.details \
             FROM audit_events a LEFT JOIN tenants t ON t.id = a.tenant_id WHERE 1=1",
        );
        match q.tenant {
            Some(Some(t)) => {
                sql.push(" AND a.tenant_id = ").bind_int(t);
            }
            Some(None) => {
                sql.push(" AND a.tenant_id IS NULL");
            }
            None => {}
        }
        if let Some(e) = q.event {
            sql.push(" AND a.event = ").bind_text(e.code());
        }
        if let Some(t) = q.since {
            sql.push(" AND a.at >= ").bind_int(nanos(t));
        }
        if let Some(t) = q.until {
            sql.push(" AND a.at < ").bind_int(nanos(t));
        }
        if let Some(id) = q.before_id {
            sql.push(" AND a.id < ").bind_int(id);
        }
        sql.push(" ORDER BY a.id DESC LIMIT ").bind_int(i64::from(q.limit.max(1)));
        query(sql).fetch_all(&self.read).await.map_err(db_err)?.iter().map(audit_from_row).collect()
    }

    pub(crate) async fn provisioning_log_impl(&self, q: &ProvisioningQuery) -> Result<Vec<ProvisioningRecord>> {
        let mut sql = Sql::new(self.backend);
        sql.push(
            "SELECT id, at, request_id, token_id, idp, method, path, resource_type, resource_id, summary, notes, status, \
             scim_type, latency_us FROM provisioning_log WHERE tenant_id = ",
        );
        sql.bind_int(q.tenant);
        if let Some(t) = &q.token_id {
            sql.push(" AND token_id = ").bind_text(t.clone());
        }
        if let Some(class) = q.status_class {
            let low = i64::from(class) * 100;
            sql.push(" AND status >= ").bind_int(low).push(" AND status < ").bind_int(low + 100);
        }
        if let Some(t) = &q.resource_type {
            sql.push(" AND resource_type = ").bind_text(t.clone());
        }
        if let Some(id) = &q.resource_id {
            sql.push(" AND resource_id = ").bind_text(id.clone());
        }
        if let Some(t) = q.since {
            sql.push(" AND at >= ").bind_int(nanos(t));
        }
        if let Some(id) = q.before_id {
            sql.push(" AND id < ").bind_int(id);
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind(Arg::Int(i64::from(q.limit.max(1))));
        query(sql).fetch_all(&self.read).await.map_err(db_err)?.iter().map(provisioning_from_row).collect()
    }

    pub(crate) async fn prune_provisioning_log_impl(&self, before: OffsetDateTime) -> Result<u64> {
        self.delete_in_batches(
            // By `at`, on its index: ordering by `id` would scan the whole log whenever nothing is old enough.
            "DELETE FROM provisioning_log WHERE id IN (SELECT id FROM provisioning_log WHERE at < $1 ORDER BY at LIMIT 5000)",
            before,
        )
        .await
    }

    /// Runs `sql` (a `DELETE ... LIMIT 5000` taking the cut-off time as `$1`) until it deletes
    /// less than a full batch, one transaction per batch, so pruning a large backlog never holds
    /// the write lock for long. Returns how many rows went.
    pub(crate) async fn delete_in_batches(&self, sql: &'static str, before: OffsetDateTime) -> Result<u64> {
        const BATCH: u64 = 5000;
        let mut total = 0;
        loop {
            let mut tx = self.writer.begin().await?;
            let deleted = sqlx::query(sql).bind(nanos(before)).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            tx.commit().await?;
            total += deleted;
            if deleted < BATCH {
                return Ok(total);
            }
        }
    }
}
