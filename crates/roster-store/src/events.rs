//! Events (RFC 9967) and their streams: the outbox rows written with each change, the
//! streams' cursors, push leases and poll acknowledgements, the delivery log and pruning.
//!
//! Ordering: an event's number comes from `tenants.event_seq`, incremented in the write's
//! transaction. That row stays locked until the commit, so numbers are handed out in commit
//! order and a reader never sees event n+1 without event n. Readers that move a cursor past
//! events they did not deliver first read the tenant's `event_seq` (M) and then only look at
//! events up to M, so an event committed in between is never skipped.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use roster_core::audit::AuditEntry;
use roster_core::events::{
    Delivery, DeliveryEntry, DeliveryOutcome, DeliveryRecord, EventEntry, EventKeyRecord, EventMode, EventQuery,
    EventType, PushUpdate, StoredEvent, StreamChange, StreamRecord, StreamStatus,
};
use roster_core::model::TenantId;
use roster_core::{Error, Result};

use crate::journal::insert_audit;
use crate::sql::{Arg, Sql, from_nanos, kind_code, kind_from_code, nanos};
use crate::{SqlStore, db_err, query};

const STREAM_COLUMNS: &str = "s.id, s.tenant_id, t.slug, s.name, s.delivery, s.endpoint, s.auth_header, \
    s.poll_secret_hash, s.event_types, s.mode, s.aud, s.signed, s.status, s.paused_reason, s.flagged, s.cursor, \
    s.attempts, s.next_attempt_at, s.last_attempt_at, s.last_success_at, s.last_error, s.created_at, s.created_by";

const EVENT_COLUMNS: &str = "e.tenant_id, e.seq, e.at, e.txn, e.op, e.activation, e.kind, e.resource_id, \
    e.external_id, e.version, e.created, e.last_modified, e.attributes, e.data, e.members_added, e.members_removed, \
    e.token_id, e.idp";

fn json_text<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(Error::storage)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::storage(format!("corrupt {what}: {e}")))
}

/// Records a change's event, if its tenant has a stream (journal rows, inside the write).
pub(crate) async fn insert_event(conn: &mut AnyConnection, e: &EventEntry) -> Result<()> {
    // PostgreSQL locks only rows that match, so a tenant without streams pays no lock.
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE tenants SET event_seq = event_seq + 1 WHERE id = $1 AND event_streams > 0 RETURNING event_seq",
    )
    .bind(e.tenant)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some(seq) = seq else { return Ok(()) };
    let data = e.data.as_ref().map(json_text).transpose()?;
    sqlx::query(
        "INSERT INTO events (tenant_id, seq, at, txn, op, activation, kind, resource_id, external_id, version, created, \
         last_modified, attributes, data, members_added, members_removed, token_id, idp) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(e.tenant)
    .bind(seq)
    .bind(nanos(e.at))
    .bind(&e.txn)
    .bind(e.op.as_str())
    .bind(e.activation.map(|a| a.as_str().to_string()))
    .bind(kind_code(e.kind))
    .bind(&e.resource_id)
    .bind(e.external_id.clone())
    .bind(e.version)
    .bind(nanos(e.created))
    .bind(nanos(e.last_modified))
    .bind(json_text(&e.attributes)?)
    .bind(data)
    .bind(json_text(&e.members_added)?)
    .bind(json_text(&e.members_removed)?)
    .bind(e.token_id.clone())
    .bind(e.idp.clone())
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

fn event_from_row(row: &AnyRow) -> Result<StoredEvent> {
    let op: String = row.try_get("op").map_err(db_err)?;
    let activation: Option<String> = row.try_get("activation").map_err(db_err)?;
    let code: i64 = row.try_get("kind").map_err(db_err)?;
    let attributes: String = row.try_get("attributes").map_err(db_err)?;
    let data: Option<String> = row.try_get("data").map_err(db_err)?;
    let added: String = row.try_get("members_added").map_err(db_err)?;
    let removed: String = row.try_get("members_removed").map_err(db_err)?;
    Ok(StoredEvent {
        seq: row.try_get("seq").map_err(db_err)?,
        event: EventEntry {
            tenant: row.try_get("tenant_id").map_err(db_err)?,
            at: from_nanos(row.try_get("at").map_err(db_err)?),
            txn: row.try_get("txn").map_err(db_err)?,
            op: EventType::parse(&op).ok_or_else(|| Error::storage(format!("unknown event op {op:?}")))?,
            activation: activation.as_deref().and_then(EventType::parse),
            kind: kind_from_code(code).ok_or_else(|| Error::storage(format!("unknown resource kind {code}")))?,
            resource_id: row.try_get("resource_id").map_err(db_err)?,
            external_id: row.try_get("external_id").map_err(db_err)?,
            version: row.try_get("version").map_err(db_err)?,
            created: from_nanos(row.try_get("created").map_err(db_err)?),
            last_modified: from_nanos(row.try_get("last_modified").map_err(db_err)?),
            attributes: from_json(&attributes, "event attributes")?,
            data: data.as_deref().map(|d| from_json(d, "event data")).transpose()?,
            members_added: from_json(&added, "event members")?,
            members_removed: from_json(&removed, "event members")?,
            token_id: row.try_get("token_id").map_err(db_err)?,
            idp: row.try_get("idp").map_err(db_err)?,
        },
    })
}

fn stream_from_row(row: &AnyRow) -> Result<StreamRecord> {
    let delivery: String = row.try_get("delivery").map_err(db_err)?;
    let types: String = row.try_get("event_types").map_err(db_err)?;
    let mode: String = row.try_get("mode").map_err(db_err)?;
    let aud: String = row.try_get("aud").map_err(db_err)?;
    let status: String = row.try_get("status").map_err(db_err)?;
    let signed: i64 = row.try_get("signed").map_err(db_err)?;
    let flagged: i64 = row.try_get("flagged").map_err(db_err)?;
    let opt_time = |name: &str| -> Result<Option<OffsetDateTime>> {
        let v: Option<i64> = row.try_get(name).map_err(db_err)?;
        Ok(v.map(from_nanos))
    };
    let types: Vec<String> = from_json(&types, "stream event types")?;
    Ok(StreamRecord {
        id: row.try_get("id").map_err(db_err)?,
        tenant: row.try_get("tenant_id").map_err(db_err)?,
        tenant_slug: row.try_get("slug").map_err(db_err)?,
        name: row.try_get("name").map_err(db_err)?,
        delivery: Delivery::parse(&delivery).ok_or_else(|| Error::storage(format!("unknown delivery {delivery:?}")))?,
        endpoint: row.try_get("endpoint").map_err(db_err)?,
        authorization: row.try_get("auth_header").map_err(db_err)?,
        poll_secret_hash: row.try_get("poll_secret_hash").map_err(db_err)?,
        event_types: types.iter().filter_map(|t| EventType::parse(t)).collect(),
        mode: EventMode::parse(&mode).ok_or_else(|| Error::storage(format!("unknown event mode {mode:?}")))?,
        aud: from_json(&aud, "stream audience")?,
        signed: signed != 0,
        status: StreamStatus::parse(&status).ok_or_else(|| Error::storage(format!("unknown status {status:?}")))?,
        paused_reason: row.try_get("paused_reason").map_err(db_err)?,
        flagged: flagged != 0,
        cursor: row.try_get("cursor").map_err(db_err)?,
        attempts: row.try_get("attempts").map_err(db_err)?,
        next_attempt_at: from_nanos(row.try_get("next_attempt_at").map_err(db_err)?),
        last_attempt_at: opt_time("last_attempt_at")?,
        last_success_at: opt_time("last_success_at")?,
        last_error: row.try_get("last_error").map_err(db_err)?,
        created_at: from_nanos(row.try_get("created_at").map_err(db_err)?),
        created_by: row.try_get("created_by").map_err(db_err)?,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<DeliveryRecord> {
    let outcome: String = row.try_get("outcome").map_err(db_err)?;
    let status: Option<i64> = row.try_get("status").map_err(db_err)?;
    Ok(DeliveryRecord {
        id: row.try_get("id").map_err(db_err)?,
        at: from_nanos(row.try_get("at").map_err(db_err)?),
        seq: row.try_get("seq").map_err(db_err)?,
        jti: row.try_get("jti").map_err(db_err)?,
        attempt: row.try_get("attempt").map_err(db_err)?,
        outcome: DeliveryOutcome::parse(&outcome)
            .ok_or_else(|| Error::storage(format!("unknown delivery outcome {outcome:?}")))?,
        status: status.and_then(|s| u16::try_from(s).ok()),
        error: row.try_get("error").map_err(db_err)?,
        latency_ms: row.try_get("latency_ms").map_err(db_err)?,
    })
}

async fn insert_delivery(conn: &mut AnyConnection, d: &DeliveryEntry) -> Result<()> {
    sqlx::query(
        "INSERT INTO event_deliveries (stream_id, at, seq, jti, attempt, outcome, status, error, latency_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&d.stream_id)
    .bind(nanos(d.at))
    .bind(d.seq)
    .bind(&d.jti)
    .bind(d.attempt)
    .bind(d.outcome.as_str())
    .bind(d.status.map(i64::from))
    .bind(d.error.clone())
    .bind(d.latency_ms)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// `AND (e.op IN (...) OR e.activation IN (...))` for a stream's event types.
fn push_type_filter(sql: &mut Sql, types: &[EventType]) {
    if EventType::ALL.iter().all(|t| types.contains(t)) {
        return;
    }
    let ops: Vec<&EventType> =
        types.iter().filter(|t| !matches!(t, EventType::Activate | EventType::Deactivate)).collect();
    let acts: Vec<&EventType> =
        types.iter().filter(|t| matches!(t, EventType::Activate | EventType::Deactivate)).collect();
    sql.push(" AND (1=0");
    for (column, list) in [("e.op", ops), ("e.activation", acts)] {
        if list.is_empty() {
            continue;
        }
        sql.push(&format!(" OR {column} IN ("));
        sql.bind_list(list.iter().map(|t| Arg::Text(t.as_str().to_string())));
        sql.push(")");
    }
    sql.push(")");
}

impl SqlStore {
    async fn stream_in(&self, conn: &mut AnyConnection, id: &str, lock: bool) -> Result<Option<StreamRecord>> {
        let lock = if lock { self.backend.for_update() } else { "" };
        let lock = if lock.is_empty() { String::new() } else { format!("{lock} OF s") };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STREAM_COLUMNS} FROM event_streams s JOIN tenants t ON t.id = s.tenant_id WHERE s.id = $1{lock}"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(stream_from_row).transpose()
    }

    pub(crate) async fn create_stream_impl(
        &self,
        mut stream: StreamRecord,
        key: EventKeyRecord,
        audit: AuditEntry,
    ) -> Result<StreamRecord> {
        let mut tx = self.writer.begin().await?;
        // Counting the stream on the tenant row serializes with writes that allocate event
        // numbers: a write committed before this sees no stream (and is before the cursor),
        // a write after it records an event past the cursor.
        let cursor: i64 = sqlx::query_scalar(
            "UPDATE tenants SET event_streams = event_streams + 1 WHERE id = $1 RETURNING event_seq",
        )
        .bind(stream.tenant)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let keys: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM event_keys WHERE tenant_id = $1 AND retired_at IS NULL")
                .bind(stream.tenant)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
        if keys == 0 {
            sqlx::query(
                "INSERT INTO event_keys (kid, tenant_id, alg, secret, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&key.kid)
            .bind(stream.tenant)
            .bind(roster_core::events::jws::ES256)
            .bind(key.secret.clone())
            .bind(json_text(&key.public_jwk)?)
            .bind(nanos(key.created_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        stream.cursor = cursor;
        let types: Vec<&str> = stream.event_types.iter().map(|t| t.as_str()).collect();
        sqlx::query(
            "INSERT INTO event_streams (id, tenant_id, name, delivery, endpoint, auth_header, poll_secret_hash, event_types, \
             mode, aud, signed, status, cursor, attempts, next_attempt_at, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 0, $14, $15)",
        )
        .bind(&stream.id)
        .bind(stream.tenant)
        .bind(&stream.name)
        .bind(stream.delivery.as_str())
        .bind(stream.endpoint.clone())
        .bind(stream.authorization.clone())
        .bind(stream.poll_secret_hash.clone())
        .bind(json_text(&types)?)
        .bind(stream.mode.as_str())
        .bind(json_text(&stream.aud)?)
        .bind(i64::from(stream.signed))
        .bind(stream.status.as_str())
        .bind(cursor)
        .bind(nanos(stream.created_at))
        .bind(&stream.created_by)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(stream)
    }

    pub(crate) async fn streams_impl(&self, tenant: TenantId) -> Result<Vec<StreamRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STREAM_COLUMNS} FROM event_streams s JOIN tenants t ON t.id = s.tenant_id \
             WHERE s.tenant_id = $1 ORDER BY s.created_at, s.id"
        )))
        .bind(tenant)
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?
        .iter()
        .map(stream_from_row)
        .collect()
    }

    pub(crate) async fn stream_impl(&self, id: &str) -> Result<Option<StreamRecord>> {
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        self.stream_in(&mut conn, id, false).await
    }

    pub(crate) async fn change_stream_impl(
        &self,
        tenant: TenantId,
        id: &str,
        change: StreamChange,
        audit: AuditEntry,
    ) -> Result<Option<StreamRecord>> {
        let mut tx = self.writer.begin().await?;
        let Some(current) = self.stream_in(&mut tx, id, true).await? else { return Ok(None) };
        if current.tenant != tenant {
            return Ok(None);
        }
        match change {
            StreamChange::Pause { reason, flagged } => {
                sqlx::query(
                    "UPDATE event_streams SET status = 'paused', paused_reason = $1, flagged = $2, lease_owner = NULL, \
                     lease_until = NULL WHERE id = $3",
                )
                .bind(reason)
                .bind(i64::from(flagged))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            StreamChange::Resume { skip_to, at } => {
                if let Some((seq, jti)) = skip_to {
                    match current.delivery {
                        Delivery::Push => {
                            sqlx::query("UPDATE event_streams SET cursor = $1 WHERE id = $2 AND cursor < $1")
                                .bind(seq)
                                .bind(id)
                                .execute(&mut *tx)
                                .await
                                .map_err(db_err)?;
                        }
                        Delivery::Poll => {
                            sqlx::query(
                                "INSERT INTO event_acks (stream_id, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                            )
                            .bind(id)
                            .bind(seq)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                            self.advance_poll_cursor(&mut tx, &current).await?;
                        }
                    }
                    let log = DeliveryEntry {
                        stream_id: id.to_string(),
                        at,
                        seq,
                        jti,
                        attempt: 0,
                        outcome: DeliveryOutcome::Skipped,
                        status: None,
                        error: Some(format!("skipped by {}", audit.actor)),
                        latency_ms: 0,
                    };
                    insert_delivery(&mut tx, &log).await?;
                }
                sqlx::query(
                    "UPDATE event_streams SET status = 'active', paused_reason = NULL, flagged = 0, attempts = 0, \
                     next_attempt_at = 0, last_error = NULL, lease_owner = NULL, lease_until = NULL WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            StreamChange::Delete => {
                sqlx::query("DELETE FROM event_streams WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query("UPDATE tenants SET event_streams = event_streams - 1 WHERE id = $1 AND event_streams > 0")
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut tx, &audit).await?;
                tx.commit().await?;
                return Ok(Some(current));
            }
        }
        insert_audit(&mut tx, &audit).await?;
        let updated = self.stream_in(&mut tx, id, false).await?;
        tx.commit().await?;
        Ok(updated)
    }

    pub(crate) async fn event_keys_impl(&self, tenant: TenantId) -> Result<Vec<EventKeyRecord>> {
        let rows = sqlx::query(
            "SELECT kid, tenant_id, secret, public_jwk, created_at, retired_at FROM event_keys WHERE tenant_id = $1 \
             ORDER BY CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END, created_at DESC",
        )
        .bind(tenant)
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let jwk: String = row.try_get("public_jwk").map_err(db_err)?;
                let retired: Option<i64> = row.try_get("retired_at").map_err(db_err)?;
                Ok(EventKeyRecord {
                    kid: row.try_get("kid").map_err(db_err)?,
                    tenant: row.try_get("tenant_id").map_err(db_err)?,
                    secret: row.try_get("secret").map_err(db_err)?,
                    public_jwk: from_json(&jwk, "event key")?,
                    created_at: from_nanos(row.try_get("created_at").map_err(db_err)?),
                    retired_at: retired.map(from_nanos),
                })
            })
            .collect()
    }

    fn events_sql(&self, q: &EventQuery, select: &str) -> Sql {
        let mut sql = Sql::new(self.backend);
        sql.push(&format!("SELECT {select} FROM events e WHERE e.tenant_id = "));
        sql.bind_int(q.tenant).push(" AND e.seq > ").bind_int(q.after);
        if let Some(upto) = q.upto {
            sql.push(" AND e.seq <= ").bind_int(upto);
        }
        push_type_filter(&mut sql, &q.types);
        if let Some(stream) = &q.unacked_by {
            sql.push(" AND NOT EXISTS (SELECT 1 FROM event_acks a WHERE a.stream_id = ")
                .bind_text(stream.clone())
                .push(" AND a.seq = e.seq)");
        }
        sql
    }

    pub(crate) async fn events_impl(&self, q: &EventQuery) -> Result<Vec<StoredEvent>> {
        if q.types.is_empty() || q.limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = self.events_sql(q, EVENT_COLUMNS);
        sql.push(" ORDER BY e.seq LIMIT ").bind_int(i64::from(q.limit));
        query(sql).fetch_all(&self.read).await.map_err(db_err)?.iter().map(event_from_row).collect()
    }

    pub(crate) async fn latest_event_impl(&self, tenant: TenantId) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT event_seq FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        Ok(seq.unwrap_or(0))
    }

    pub(crate) async fn claim_push_streams_impl(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StreamRecord>> {
        // Looked for on the read pool first: an idle installation takes no write lock.
        let due: Option<String> = sqlx::query_scalar(
            "SELECT s.id FROM event_streams s JOIN tenants t ON t.id = s.tenant_id \
             WHERE s.delivery = 'push' AND s.status = 'active' AND s.cursor < t.event_seq \
               AND s.next_attempt_at <= $1 AND (s.lease_until IS NULL OR s.lease_until < $1) LIMIT 1",
        )
        .bind(nanos(now))
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.writer.begin().await?;
        // The outer condition is checked again on the locked row (PostgreSQL re-evaluates
        // it after waiting), so two instances never both take a stream.
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE event_streams SET lease_owner = $1, lease_until = $2 WHERE id IN ( \
               SELECT s.id FROM event_streams s JOIN tenants t ON t.id = s.tenant_id \
               WHERE s.delivery = 'push' AND s.status = 'active' AND s.cursor < t.event_seq \
                 AND s.next_attempt_at <= $3 AND (s.lease_until IS NULL OR s.lease_until < $3) \
               ORDER BY s.next_attempt_at LIMIT $4) \
             AND status = 'active' AND (lease_until IS NULL OR lease_until < $3) RETURNING id",
        )
        .bind(owner)
        .bind(nanos(until))
        .bind(nanos(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            out.extend(self.stream_in(&mut tx, id, false).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    pub(crate) async fn renew_push_lease_impl(&self, id: &str, owner: &str, until: OffsetDateTime) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let n = sqlx::query(
            "UPDATE event_streams SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'active'",
        )
        .bind(nanos(until))
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    pub(crate) async fn record_push_impl(
        &self,
        id: &str,
        owner: &str,
        update: PushUpdate,
        log: Option<DeliveryEntry>,
        audit: Option<AuditEntry>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let n = match update {
            PushUpdate::Advance { from, to, at } => {
                let delivered = log.is_some();
                let sql = if delivered {
                    "UPDATE event_streams SET cursor = $1, attempts = 0, last_error = NULL, last_attempt_at = $2, \
                     last_success_at = $2 WHERE id = $3 AND lease_owner = $4 AND cursor = $5 AND status = 'active'"
                } else {
                    "UPDATE event_streams SET cursor = $1, attempts = 0, last_error = NULL, last_attempt_at = \
                     COALESCE(last_attempt_at, $2) WHERE id = $3 AND lease_owner = $4 AND cursor = $5 AND status = 'active'"
                };
                sqlx::query(sql)
                    .bind(to)
                    .bind(nanos(at))
                    .bind(id)
                    .bind(owner)
                    .bind(from)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .rows_affected()
            }
            PushUpdate::Failed { attempts, at, retry_at, error, pause } => {
                let sql = if pause.is_some() {
                    "UPDATE event_streams SET attempts = $1, last_attempt_at = $2, next_attempt_at = $3, last_error = $4, \
                     status = 'paused', paused_reason = $5, flagged = 1, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $6 AND lease_owner = $7"
                } else {
                    "UPDATE event_streams SET attempts = $1, last_attempt_at = $2, next_attempt_at = $3, last_error = $4, \
                     paused_reason = $5, lease_owner = NULL, lease_until = NULL WHERE id = $6 AND lease_owner = $7"
                };
                sqlx::query(sql)
                    .bind(attempts)
                    .bind(nanos(at))
                    .bind(nanos(retry_at))
                    .bind(error)
                    .bind(pause)
                    .bind(id)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .rows_affected()
            }
            PushUpdate::Release => sqlx::query(
                "UPDATE event_streams SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected(),
        };
        if n != 1 {
            // Lost the lease (another instance took the stream, or it was paused): change nothing.
            return Ok(false);
        }
        if let Some(log) = &log {
            insert_delivery(&mut tx, log).await?;
        }
        if let Some(audit) = &audit {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Moves a poll stream's cursor past every leading event that is acknowledged or not
    /// meant for it, and forgets acknowledgements behind the cursor. Inside the caller's
    /// transaction, which holds the stream row.
    async fn advance_poll_cursor(&self, conn: &mut AnyConnection, stream: &StreamRecord) -> Result<i64> {
        // The bound first: an event committed after it is beyond it, never skipped.
        let latest: i64 = sqlx::query_scalar("SELECT event_seq FROM tenants WHERE id = $1")
            .bind(stream.tenant)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        let q = EventQuery {
            tenant: stream.tenant,
            after: stream.cursor,
            upto: Some(latest),
            types: stream.event_types.clone(),
            unacked_by: Some(stream.id.clone()),
            limit: 1,
        };
        let sql = self.events_sql(&q, "MIN(e.seq) AS first");
        let first: Option<i64> =
            query(sql).fetch_one(&mut *conn).await.map_err(db_err)?.try_get("first").map_err(db_err)?;
        let cursor = match first {
            Some(first) => (first - 1).max(stream.cursor),
            None => latest.max(stream.cursor),
        };
        if cursor != stream.cursor {
            sqlx::query("UPDATE event_streams SET cursor = $1 WHERE id = $2")
                .bind(cursor)
                .bind(&stream.id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            sqlx::query("DELETE FROM event_acks WHERE stream_id = $1 AND seq <= $2")
                .bind(&stream.id)
                .bind(cursor)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        Ok(cursor)
    }

    pub(crate) async fn acknowledge_impl(
        &self,
        id: &str,
        acks: &[i64],
        errors: &[(i64, String)],
        now: OffsetDateTime,
    ) -> Result<Option<StreamRecord>> {
        let mut tx = self.writer.begin().await?;
        let Some(stream) = self.stream_in(&mut tx, id, true).await? else { return Ok(None) };
        let mut seqs: Vec<i64> = acks.iter().copied().chain(errors.iter().map(|(s, _)| *s)).collect();
        seqs.sort_unstable();
        seqs.dedup();
        // Only events that exist, beyond the cursor: an acknowledgement of an event not yet
        // written must not make the stream skip it later.
        let mut recorded: Vec<i64> = Vec::new();
        for chunk in seqs.chunks(400) {
            let mut sql = Sql::new(self.backend);
            sql.push("INSERT INTO event_acks (stream_id, seq) SELECT ")
                .bind_text(id)
                .push(", e.seq FROM events e WHERE e.tenant_id = ")
                .bind_int(stream.tenant)
                .push(" AND e.seq > ")
                .bind_int(stream.cursor)
                .push(" AND e.seq IN (");
            sql.bind_list(chunk.iter().map(|seq| Arg::Int(*seq)));
            sql.push(") ON CONFLICT DO NOTHING RETURNING seq");
            for row in query(sql).fetch_all(&mut *tx).await.map_err(db_err)? {
                recorded.push(row.try_get("seq").map_err(db_err)?);
            }
        }
        recorded.sort_unstable();
        for seq in &recorded {
            let error = errors.iter().find(|(s, _)| s == seq).map(|(_, e)| e.clone());
            let log = DeliveryEntry {
                stream_id: id.to_string(),
                at: now,
                seq: *seq,
                jti: stream.jti(*seq),
                attempt: 1,
                outcome: if error.is_some() { DeliveryOutcome::Rejected } else { DeliveryOutcome::Acknowledged },
                status: None,
                error,
                latency_ms: 0,
            };
            insert_delivery(&mut tx, &log).await?;
        }
        self.advance_poll_cursor(&mut tx, &stream).await?;
        let rejected = errors.iter().find(|(s, _)| recorded.contains(s));
        match rejected {
            Some((seq, e)) => {
                sqlx::query(
                    "UPDATE event_streams SET last_attempt_at = $1, flagged = 1, last_error = $2 WHERE id = $3",
                )
                .bind(nanos(now))
                .bind(format!("the receiver reported an error for {}: {e}", stream.jti(*seq)))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            None => {
                sqlx::query("UPDATE event_streams SET last_attempt_at = $1, last_success_at = $1 WHERE id = $2")
                    .bind(nanos(now))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
        }
        let updated = self.stream_in(&mut tx, id, false).await?;
        tx.commit().await?;
        Ok(updated)
    }

    pub(crate) async fn deliveries_impl(
        &self,
        id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>> {
        let mut sql = Sql::new(self.backend);
        sql.push("SELECT id, at, seq, jti, attempt, outcome, status, error, latency_ms FROM event_deliveries WHERE stream_id = ")
            .bind_text(id);
        if let Some(b) = before {
            sql.push(" AND id < ").bind_int(b);
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind_int(i64::from(limit.max(1)));
        query(sql).fetch_all(&self.read).await.map_err(db_err)?.iter().map(delivery_from_row).collect()
    }

    pub(crate) async fn prune_events_impl(&self, before: OffsetDateTime) -> Result<u64> {
        // An event goes only once every stream of its tenant is past it: nothing undelivered is
        // dropped.
        let events = self
            .delete_in_batches(
                "DELETE FROM events WHERE (tenant_id, seq) IN (SELECT e.tenant_id, e.seq FROM events e \
                 WHERE e.at < $1 AND e.seq <= (SELECT MIN(COALESCE(s.cursor, t.event_seq)) FROM tenants t \
                 LEFT JOIN event_streams s ON s.tenant_id = t.id WHERE t.id = e.tenant_id) LIMIT 5000)",
                before,
            )
            .await?;
        self.delete_in_batches(
            "DELETE FROM event_deliveries WHERE id IN (SELECT id FROM event_deliveries WHERE at < $1 LIMIT 5000)",
            before,
        )
        .await?;
        Ok(events)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use roster_core::Store;
    use roster_core::audit::{Actor, AuditEvent};
    use roster_core::model::TenantSettings;
    use roster_scim::ResourceKind;
    use time::OffsetDateTime;

    use super::*;
    use crate::StoreOptions;

    async fn store() -> (SqlStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        (SqlStore::connect(&url, &StoreOptions::default()).await.unwrap(), dir)
    }

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_800_000_000 + s)
    }

    fn entry(tenant: TenantId, id: &str, op: EventType) -> EventEntry {
        EventEntry {
            tenant,
            at: at(0),
            txn: format!("txn-{id}"),
            op,
            activation: None,
            kind: ResourceKind::User,
            resource_id: id.into(),
            external_id: None,
            version: 1,
            created: at(0),
            last_modified: at(0),
            attributes: vec!["userName".into()],
            data: None,
            members_added: vec![],
            members_removed: vec![],
            token_id: None,
            idp: None,
        }
    }

    async fn record(store: &SqlStore, e: &EventEntry) {
        let mut tx = store.writer.begin().await.unwrap();
        insert_event(&mut tx, e).await.unwrap();
        tx.commit().await.unwrap();
    }

    fn audit(tenant: TenantId) -> AuditEntry {
        AuditEntry {
            tenant: Some(tenant),
            at: at(0),
            actor: Actor::system(),
            event: AuditEvent::EventStreamCreated,
            target: "event stream".into(),
            details: String::new(),
        }
    }

    fn stream(tenant: TenantId, id: &str, delivery: Delivery, types: &[EventType]) -> StreamRecord {
        StreamRecord {
            id: id.into(),
            tenant,
            tenant_slug: "t".into(),
            name: String::new(),
            delivery,
            endpoint: (delivery == Delivery::Push).then(|| "https://app.example/events".into()),
            authorization: None,
            poll_secret_hash: None,
            event_types: types.to_vec(),
            mode: EventMode::Notice,
            aud: vec!["app".into()],
            signed: true,
            status: StreamStatus::Active,
            paused_reason: None,
            flagged: false,
            cursor: 0,
            attempts: 0,
            next_attempt_at: OffsetDateTime::UNIX_EPOCH,
            last_attempt_at: None,
            last_success_at: None,
            last_error: None,
            created_at: at(0),
            created_by: "test".into(),
        }
    }

    fn key(tenant: TenantId) -> EventKeyRecord {
        EventKeyRecord {
            kid: format!("kid-{tenant}"),
            tenant,
            secret: vec![7; 32],
            public_jwk: serde_json::json!({"kty": "EC"}),
            created_at: at(0),
            retired_at: None,
        }
    }

    fn seqs(events: &[StoredEvent]) -> Vec<i64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[tokio::test]
    async fn events_are_recorded_only_once_a_stream_exists_and_are_numbered_without_gaps() {
        let (store, _dir) = store().await;
        let t = store.create_tenant("t", &TenantSettings::default(), at(0)).await.unwrap().id;
        record(&store, &entry(t, "before", EventType::Create)).await;
        assert_eq!(store.latest_event(t).await.unwrap(), 0, "no stream, no event");
        let s = store.create_stream(stream(t, "s1", Delivery::Poll, &EventType::ALL), key(t), audit(t)).await.unwrap();
        assert_eq!(s.cursor, 0);
        for id in ["a", "b", "c"] {
            record(&store, &entry(t, id, EventType::Create)).await;
        }
        let q =
            EventQuery { tenant: t, after: 0, upto: None, types: EventType::ALL.to_vec(), unacked_by: None, limit: 10 };
        let events = store.events(&q).await.unwrap();
        assert_eq!(seqs(&events), vec![1, 2, 3]);
        assert_eq!(events[1].event.resource_id, "b");
        assert_eq!(store.latest_event(t).await.unwrap(), 3);
        // A second stream starts after what exists; the key is kept.
        let s2 =
            store.create_stream(stream(t, "s2", Delivery::Poll, &EventType::ALL), key(99), audit(t)).await.unwrap();
        assert_eq!(s2.cursor, 3);
        assert_eq!(store.event_keys(t).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn acknowledgements_move_a_poll_cursor_over_the_acknowledged_prefix_only() {
        let (store, _dir) = store().await;
        let t = store.create_tenant("t", &TenantSettings::default(), at(0)).await.unwrap().id;
        store.create_stream(stream(t, "s", Delivery::Poll, &[EventType::Create]), key(t), audit(t)).await.unwrap();
        record(&store, &entry(t, "a", EventType::Create)).await; // 1
        record(&store, &entry(t, "a", EventType::Patch)).await; // 2, not wanted
        record(&store, &entry(t, "b", EventType::Create)).await; // 3
        record(&store, &entry(t, "c", EventType::Create)).await; // 4
        // An acknowledgement of an event that does not exist yet is ignored.
        let s = store.acknowledge("s", &[3, 9], &[], at(1)).await.unwrap().unwrap();
        assert_eq!(s.cursor, 0);
        let pending = |cursor| EventQuery {
            tenant: t,
            after: cursor,
            upto: None,
            types: vec![EventType::Create],
            unacked_by: Some("s".into()),
            limit: 10,
        };
        assert_eq!(seqs(&store.events(&pending(0)).await.unwrap()), vec![1, 4]);
        let s = store.acknowledge("s", &[1], &[], at(2)).await.unwrap().unwrap();
        assert_eq!(s.cursor, 3, "past the unwanted patch and the acknowledged 3");
        let s = store.acknowledge("s", &[], &[(4, "invalid_request: no".into())], at(3)).await.unwrap().unwrap();
        assert_eq!(s.cursor, 4);
        assert!(s.flagged);
        record(&store, &entry(t, "d", EventType::Create)).await; // 9 was never recorded: this is 5
        assert_eq!(seqs(&store.events(&pending(s.cursor)).await.unwrap()), vec![5]);
        let log = store.deliveries("s", None, 10).await.unwrap();
        let outcomes: Vec<_> = log.iter().map(|d| (d.seq, d.outcome)).collect();
        assert_eq!(
            outcomes,
            vec![
                (4, DeliveryOutcome::Rejected),
                (1, DeliveryOutcome::Acknowledged),
                (3, DeliveryOutcome::Acknowledged)
            ]
        );
    }

    #[tokio::test]
    async fn a_push_lease_has_one_holder_and_a_lost_lease_changes_nothing() {
        let (store, _dir) = store().await;
        let t = store.create_tenant("t", &TenantSettings::default(), at(0)).await.unwrap().id;
        store.create_stream(stream(t, "p", Delivery::Push, &EventType::ALL), key(t), audit(t)).await.unwrap();
        assert!(store.claim_push_streams("a", at(1), at(61), 10).await.unwrap().is_empty(), "nothing to send");
        record(&store, &entry(t, "x", EventType::Create)).await;
        record(&store, &entry(t, "y", EventType::Create)).await;
        let claimed = store.claim_push_streams("a", at(1), at(61), 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert!(store.claim_push_streams("b", at(2), at(62), 10).await.unwrap().is_empty(), "held by a");
        // a stalls past its lease; b takes over and delivers event 1.
        let taken = store.claim_push_streams("b", at(70), at(130), 10).await.unwrap();
        assert_eq!(taken.len(), 1);
        let advance = |from, to| PushUpdate::Advance { from, to, at: at(71) };
        assert!(store.record_push("p", "b", advance(0, 1), None, None).await.unwrap());
        // a wakes up: its lease and its view of the cursor are both stale.
        assert!(!store.renew_push_lease("p", "a", at(131)).await.unwrap());
        assert!(!store.record_push("p", "a", advance(0, 2), None, None).await.unwrap());
        assert!(!store.record_push("p", "b", advance(0, 2), None, None).await.unwrap(), "the cursor moved");
        assert!(store.record_push("p", "b", advance(1, 2), None, None).await.unwrap());
        assert_eq!(store.stream("p").await.unwrap().unwrap().cursor, 2);
        // A failure with a pause leaves the stream paused, flagged and released.
        record(&store, &entry(t, "z", EventType::Create)).await;
        let failed = PushUpdate::Failed {
            attempts: 3,
            at: at(72),
            retry_at: at(80),
            error: "500".into(),
            pause: Some("gave up".into()),
        };
        assert!(store.record_push("p", "b", failed, None, None).await.unwrap());
        let s = store.stream("p").await.unwrap().unwrap();
        assert_eq!((s.status, s.flagged, s.paused_reason.as_deref()), (StreamStatus::Paused, true, Some("gave up")));
        assert!(store.claim_push_streams("a", at(200), at(260), 10).await.unwrap().is_empty(), "paused");
    }

    #[tokio::test]
    async fn pruning_keeps_every_event_a_stream_still_needs() {
        let (store, _dir) = store().await;
        let t = store.create_tenant("t", &TenantSettings::default(), at(0)).await.unwrap().id;
        store.create_stream(stream(t, "p", Delivery::Push, &EventType::ALL), key(t), audit(t)).await.unwrap();
        for id in ["a", "b", "c"] {
            record(&store, &entry(t, id, EventType::Create)).await;
        }
        store.claim_push_streams("w", at(1), at(61), 1).await.unwrap();
        store.record_push("p", "w", PushUpdate::Advance { from: 0, to: 2, at: at(1) }, None, None).await.unwrap();
        assert_eq!(store.prune_events(at(10)).await.unwrap(), 2);
        let q =
            EventQuery { tenant: t, after: 0, upto: None, types: EventType::ALL.to_vec(), unacked_by: None, limit: 10 };
        assert_eq!(seqs(&store.events(&q).await.unwrap()), vec![3]);
        // Without streams, old events go.
        store.change_stream(t, "p", StreamChange::Delete, audit(t)).await.unwrap();
        assert_eq!(store.prune_events(at(10)).await.unwrap(), 1);
        record(&store, &entry(t, "d", EventType::Create)).await;
        assert_eq!(store.latest_event(t).await.unwrap(), 3, "no stream: nothing recorded");
    }
}
