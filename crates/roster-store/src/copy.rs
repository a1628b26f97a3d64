//! Copies a whole installation from one database to another (`roster copy`), e.g. from the
//! embedded SQLite to PostgreSQL. Ids are kept, so SCIM ids, token ids and ETags carry over;
//! sessions are not copied (administrators sign in again).

use sqlx::Row;
use sqlx::any::AnyRow;

use roster_core::{Error, Result};

use crate::sql::{Arg, Sql};
use crate::{Backend, SqlStore, db_err, query};

#[derive(Debug, Clone, Copy)]
enum Ty {
    Int,
    Real,
    Text,
    Bytes,
}

/// A table and its columns; the first column orders the copy.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Ty)],
    /// The identity column whose sequence PostgreSQL must move past the copied ids.
    identity: Option<&'static str>,
}

const TABLES: &[Table] = &[
    Table {
        name: "tenants",
        columns: &[
            ("id", Ty::Int),
            ("slug", Ty::Text),
            ("settings", Ty::Text),
            ("schema_version", Ty::Int),
            ("created_at", Ty::Int),
            ("event_seq", Ty::Int),
            ("event_streams", Ty::Int),
        ],
        identity: Some("id"),
    },
    Table {
        name: "custom_attributes",
        columns: &[
            ("tenant_id", Ty::Int),
            ("name", Ty::Text),
            ("name_key", Ty::Text),
            ("type", Ty::Text),
            ("multi_valued", Ty::Int),
            ("description", Ty::Text),
            ("created_at", Ty::Int),
        ],
        identity: None,
    },
    Table {
        name: "scim_tokens",
        columns: &[
            ("id", Ty::Text),
            ("tenant_id", Ty::Int),
            ("idp", Ty::Text),
            ("name", Ty::Text),
            ("secret_hash", Ty::Bytes),
            ("status", Ty::Text),
            ("created_at", Ty::Int),
            ("expires_at", Ty::Int),
            ("last_used_at", Ty::Int),
        ],
        identity: None,
    },
    Table {
        name: "resources",
        columns: &[
            ("pk", Ty::Int),
            ("tenant_id", Ty::Int),
            ("kind", Ty::Int),
            ("id", Ty::Text),
            ("unique_key", Ty::Text),
            ("external_id", Ty::Text),
            ("active", Ty::Int),
            ("display", Ty::Text),
            ("display_key", Ty::Text),
            ("created", Ty::Int),
            ("last_modified", Ty::Int),
            ("version", Ty::Int),
            ("data", Ty::Text),
        ],
        identity: Some("pk"),
    },
    Table {
        name: "resource_values",
        columns: &[
            ("resource_pk", Ty::Int),
            ("tenant_id", Ty::Int),
            ("path", Ty::Text),
            ("elem", Ty::Int),
            ("str", Ty::Text),
            ("num", Ty::Real),
        ],
        identity: None,
    },
    Table {
        name: "memberships",
        columns: &[("group_pk", Ty::Int), ("member_pk", Ty::Int), ("tenant_id", Ty::Int), ("member_kind", Ty::Int)],
        identity: None,
    },
    Table {
        name: "admins",
        columns: &[
            ("id", Ty::Int),
            ("username", Ty::Text),
            ("password_hash", Ty::Text),
            ("created_at", Ty::Int),
            ("updated_at", Ty::Int),
        ],
        identity: Some("id"),
    },
    Table {
        name: "api_keys",
        columns: &[
            ("id", Ty::Text),
            ("name", Ty::Text),
            ("secret_hash", Ty::Bytes),
            ("tenant_id", Ty::Int),
            ("scope", Ty::Text),
            ("created_at", Ty::Int),
            ("created_by", Ty::Text),
            ("last_used_at", Ty::Int),
        ],
        identity: None,
    },
    Table {
        name: "audit_events",
        columns: &[
            ("id", Ty::Int),
            ("tenant_id", Ty::Int),
            ("at", Ty::Int),
            ("actor_kind", Ty::Text),
            ("actor", Ty::Text),
            ("event", Ty::Text),
            ("target", Ty::Text),
            ("details", Ty::Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "provisioning_log",
        columns: &[
            ("id", Ty::Int),
            ("tenant_id", Ty::Int),
            ("at", Ty::Int),
            ("request_id", Ty::Text),
            ("token_id", Ty::Text),
            ("idp", Ty::Text),
            ("method", Ty::Text),
            ("path", Ty::Text),
            ("resource_type", Ty::Text),
            ("resource_id", Ty::Text),
            ("summary", Ty::Text),
            ("notes", Ty::Text),
            ("status", Ty::Int),
            ("scim_type", Ty::Text),
            ("latency_us", Ty::Int),
        ],
        identity: Some("id"),
    },
    // Events and their streams (with their cursors and signing keys, so receivers carry on
    // where they were and keep verifying with the same keys).
    Table {
        name: "events",
        columns: &[
            ("tenant_id", Ty::Int),
            ("seq", Ty::Int),
            ("at", Ty::Int),
            ("txn", Ty::Text),
            ("op", Ty::Text),
            ("activation", Ty::Text),
            ("kind", Ty::Int),
            ("resource_id", Ty::Text),
            ("external_id", Ty::Text),
            ("version", Ty::Int),
            ("created", Ty::Int),
            ("last_modified", Ty::Int),
            ("attributes", Ty::Text),
            ("data", Ty::Text),
            ("members_added", Ty::Text),
            ("members_removed", Ty::Text),
            ("token_id", Ty::Text),
            ("idp", Ty::Text),
        ],
        identity: None,
    },
    Table {
        name: "event_keys",
        columns: &[
            ("kid", Ty::Text),
            ("tenant_id", Ty::Int),
            ("alg", Ty::Text),
            ("secret", Ty::Bytes),
            ("public_jwk", Ty::Text),
            ("created_at", Ty::Int),
            ("retired_at", Ty::Int),
        ],
        identity: None,
    },
    Table {
        name: "event_streams",
        columns: &[
            ("id", Ty::Text),
            ("tenant_id", Ty::Int),
            ("name", Ty::Text),
            ("delivery", Ty::Text),
            ("endpoint", Ty::Text),
            ("auth_header", Ty::Text),
            ("poll_secret_hash", Ty::Bytes),
            ("event_types", Ty::Text),
            ("mode", Ty::Text),
            ("aud", Ty::Text),
            ("signed", Ty::Int),
            ("status", Ty::Text),
            ("paused_reason", Ty::Text),
            ("flagged", Ty::Int),
            ("cursor", Ty::Int),
            ("attempts", Ty::Int),
            ("next_attempt_at", Ty::Int),
            ("last_attempt_at", Ty::Int),
            ("last_success_at", Ty::Int),
            ("last_error", Ty::Text),
            ("created_at", Ty::Int),
            ("created_by", Ty::Text),
        ],
        identity: None,
    },
    Table { name: "event_acks", columns: &[("stream_id", Ty::Text), ("seq", Ty::Int)], identity: None },
    Table {
        name: "event_deliveries",
        columns: &[
            ("id", Ty::Int),
            ("stream_id", Ty::Text),
            ("at", Ty::Int),
            ("seq", Ty::Int),
            ("jti", Ty::Text),
            ("attempt", Ty::Int),
            ("outcome", Ty::Text),
            ("status", Ty::Int),
            ("error", Ty::Text),
            ("latency_ms", Ty::Int),
        ],
        identity: Some("id"),
    },
];

fn read_arg(row: &AnyRow, i: usize, ty: Ty) -> Result<Arg> {
    Ok(match ty {
        Ty::Int => row.try_get::<Option<i64>, _>(i).map_err(db_err)?.map_or(Arg::NullInt, Arg::Int),
        Ty::Real => row.try_get::<Option<f64>, _>(i).map_err(db_err)?.map_or(Arg::NullFloat, Arg::Float),
        Ty::Text => row.try_get::<Option<String>, _>(i).map_err(db_err)?.map_or(Arg::NullText, Arg::Text),
        Ty::Bytes => row.try_get::<Option<Vec<u8>>, _>(i).map_err(db_err)?.map_or(Arg::NullBytes, Arg::Bytes),
    })
}

/// How many rows of each table were copied.
pub type CopyReport = Vec<(&'static str, u64)>;

impl SqlStore {
    /// Copies every table of `self` into `target`, which must be migrated and empty.
    pub async fn copy_into(&self, target: &SqlStore) -> Result<CopyReport> {
        let existing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tenants").fetch_one(&target.read).await.map_err(db_err)?;
        if existing > 0 {
            return Err(Error::Conflict("the target database is not empty; copy into a fresh one".into()));
        }
        let mut report = Vec::new();
        let mut tx = target.writer.begin().await?;
        for table in TABLES {
            let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
            let select = format!("SELECT {} FROM {} ORDER BY {}", columns.join(", "), table.name, columns.join(", "));
            let rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch_all(&self.read).await.map_err(db_err)?;
            for chunk in rows.chunks(100) {
                let mut sql = Sql::new(target.backend);
                sql.push(&format!("INSERT INTO {} ({}) VALUES ", table.name, columns.join(", ")));
                for (r, row) in chunk.iter().enumerate() {
                    if r > 0 {
                        sql.push(", ");
                    }
                    sql.push("(");
                    for (i, (_, ty)) in table.columns.iter().enumerate() {
                        if i > 0 {
                            sql.push(", ");
                        }
                        sql.bind(read_arg(row, i, *ty)?);
                    }
                    sql.push(")");
                }
                query(sql).execute(&mut *tx).await.map_err(db_err)?;
            }
            if let (Some(identity), Backend::Postgres) = (table.identity, target.backend) {
                // Explicit ids do not move PostgreSQL's identity sequence: set it past them.
                let setval = format!(
                    "SELECT setval(pg_get_serial_sequence('{t}', '{identity}'), (SELECT COALESCE(MAX({identity}), 0) + 1 FROM {t}), false)",
                    t = table.name
                );
                sqlx::query(sqlx::AssertSqlSafe(setval)).execute(&mut *tx).await.map_err(db_err)?;
            }
            report.push((table.name, rows.len() as u64));
        }
        tx.commit().await?;
        Ok(report)
    }
}
