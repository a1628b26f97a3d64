//! Users, groups and memberships.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use roster_core::model::{Related, StoredResource, TenantId, UnknownMembers};
use roster_core::store::{
    Change, Check, Journal, MemberChanges, MemberReport, Modified, Mutation, NewResource, Page, Query, WriteScope,
    Written,
};
use roster_core::{Error, Result};
use roster_scim::resource::MemberType;
use roster_scim::schema::ENTERPRISE_USER;
use roster_scim::{MemberOp, MemberRef, ResourceKind, ScimError, text};

use crate::index::{columns, value_rows};
use crate::sql::{Arg, Compiler, Sql, from_nanos, kind_code, kind_from_code, manager_value_path, nanos, order_by};
use crate::{SqlStore, db_err, is_unique_violation, query};

const RESOURCE_COLUMNS: &str = "r.pk, r.kind, r.id, r.data, r.created, r.last_modified, r.version";

/// How many ids or rows go into one statement.
const CHUNK: usize = 400;

fn resource_from_row(row: &AnyRow) -> Result<StoredResource> {
    let code: i64 = row.try_get("kind").map_err(db_err)?;
    let data: String = row.try_get("data").map_err(db_err)?;
    let data: Map<String, Value> =
        serde_json::from_str(&data).map_err(|e| Error::storage(format!("corrupt resource data: {e}")))?;
    Ok(StoredResource {
        pk: row.try_get("pk").map_err(db_err)?,
        kind: kind_from_code(code).ok_or_else(|| Error::storage(format!("unknown resource kind {code}")))?,
        id: row.try_get("id").map_err(db_err)?,
        data,
        created: from_nanos(row.try_get("created").map_err(db_err)?),
        last_modified: from_nanos(row.try_get("last_modified").map_err(db_err)?),
        version: row.try_get("version").map_err(db_err)?,
    })
}

fn duplicate(kind: ResourceKind, data: &Map<String, Value>) -> Error {
    let attr = if kind == ResourceKind::User { "userName" } else { "displayName" };
    Error::Duplicate { kind, value: data.get(attr).and_then(Value::as_str).unwrap_or_default().to_string() }
}

impl SqlStore {
    pub(crate) async fn create_resource_impl(
        &self,
        scope: WriteScope<'_>,
        resource: NewResource,
        journal: Journal<'_>,
    ) -> Result<(StoredResource, MemberReport)> {
        let mut tx = self.writer.begin().await?;
        let cols = columns(resource.kind, &resource.data)?;
        let data_text = serde_json::to_string(&resource.data).map_err(Error::storage)?;
        let now = nanos(scope.now);
        let pk: i64 = sqlx::query_scalar(
            "INSERT INTO resources (tenant_id, kind, id, unique_key, external_id, active, display, display_key, created, last_modified, version, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 1, $10) RETURNING pk",
        )
        .bind(scope.tenant)
        .bind(kind_code(resource.kind))
        .bind(&resource.id)
        .bind(&cols.unique_key)
        .bind(cols.external_id.clone())
        .bind(cols.active)
        .bind(&cols.display)
        .bind(&cols.display_key)
        .bind(now)
        .bind(data_text)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { duplicate(resource.kind, &resource.data) } else { db_err(e) })?;
        let rows = value_rows(scope.registry, resource.kind, &resource.data);
        self.insert_values(&mut tx, scope.tenant, pk, &rows).await?;
        let stored = StoredResource {
            pk,
            kind: resource.kind,
            id: resource.id,
            data: resource.data,
            created: scope.now,
            last_modified: scope.now,
            version: 1,
        };
        let mut changes = MemberChanges::default();
        let report = if resource.kind == ResourceKind::Group && !resource.members.is_empty() {
            self.apply_member_ops(&mut tx, &scope, &stored, &[MemberOp::Add(resource.members)], &mut changes).await?
        } else {
            MemberReport::default()
        };
        let written = Written { resource: &stored, members: &report, changed: true, member_changes: &changes };
        self.write_journal(&mut tx, journal, &written).await?;
        tx.commit().await?;
        Ok((stored, report))
    }

    pub(crate) async fn get_resource_impl(
        &self,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<StoredResource>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources r WHERE r.id = $1 AND r.tenant_id = $2 AND r.kind = $3"
        )))
        .bind(id)
        .bind(tenant)
        .bind(kind_code(kind))
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?;
        row.as_ref().map(resource_from_row).transpose()
    }

    async fn load_for_update(
        &self,
        conn: &mut AnyConnection,
        tenant: TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<StoredResource>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources r WHERE r.id = $1 AND r.tenant_id = $2 AND r.kind = $3{}",
            self.backend.for_update()
        )))
        .bind(id)
        .bind(tenant)
        .bind(kind_code(kind))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(resource_from_row).transpose()
    }

    pub(crate) async fn modify_resource_impl(
        &self,
        scope: WriteScope<'_>,
        kind: ResourceKind,
        id: &str,
        mutation: Mutation<'_>,
        journal: Journal<'_>,
    ) -> Result<Option<Modified>> {
        let mut tx = self.writer.begin().await?;
        let Some(stored) = self.load_for_update(&mut tx, scope.tenant, kind, id).await? else {
            return Ok(None);
        };
        let (data, member_ops) = match mutation(&stored)? {
            Change::None => (None, Vec::new()),
            Change::Update { data, member_ops } => (data, member_ops),
        };
        let mut changes = MemberChanges::default();
        let members = if member_ops.is_empty() {
            MemberReport::default()
        } else {
            self.apply_member_ops(&mut tx, &scope, &stored, &member_ops, &mut changes).await?
        };
        if data.is_none() && !members.changed() {
            let written = Written { resource: &stored, members: &members, changed: false, member_changes: &changes };
            self.write_journal(&mut tx, journal, &written).await?;
            tx.commit().await?;
            return Ok(Some(Modified { resource: stored, members, changed: false }));
        }
        let mut updated = stored.clone();
        updated.version += 1;
        updated.last_modified = scope.now;
        match data {
            Some(data) => {
                updated.data = data;
                self.write_data(&mut tx, &scope, &updated, stored.version).await?;
            }
            None => {
                sqlx::query("UPDATE resources SET version = $1, last_modified = $2 WHERE pk = $3 AND version = $4")
                    .bind(updated.version)
                    .bind(nanos(scope.now))
                    .bind(updated.pk)
                    .bind(stored.version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
        }
        let written = Written { resource: &updated, members: &members, changed: true, member_changes: &changes };
        self.write_journal(&mut tx, journal, &written).await?;
        tx.commit().await?;
        Ok(Some(Modified { resource: updated, members, changed: true }))
    }

    /// Rewrites a resource's data, columns and value rows (the version check guards
    /// against a lost update even if the row lock were ever missing).
    async fn write_data(
        &self,
        conn: &mut AnyConnection,
        scope: &WriteScope<'_>,
        updated: &StoredResource,
        expected_version: i64,
    ) -> Result<()> {
        let cols = columns(updated.kind, &updated.data)?;
        let data_text = serde_json::to_string(&updated.data).map_err(Error::storage)?;
        let result = sqlx::query(
            "UPDATE resources SET unique_key = $1, external_id = $2, active = $3, display = $4, display_key = $5, \
             data = $6, version = $7, last_modified = $8 WHERE pk = $9 AND version = $10",
        )
        .bind(&cols.unique_key)
        .bind(cols.external_id.clone())
        .bind(cols.active)
        .bind(&cols.display)
        .bind(&cols.display_key)
        .bind(data_text)
        .bind(updated.version)
        .bind(nanos(updated.last_modified))
        .bind(updated.pk)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map_err(|e| if is_unique_violation(&e) { duplicate(updated.kind, &updated.data) } else { db_err(e) })?;
        if result.rows_affected() != 1 {
            return Err(Error::storage(format!("resource {} changed underneath a locked update", updated.id)));
        }
        sqlx::query("DELETE FROM resource_values WHERE resource_pk = $1")
            .bind(updated.pk)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        let rows = value_rows(scope.registry, updated.kind, &updated.data);
        self.insert_values(conn, scope.tenant, updated.pk, &rows).await
    }

    async fn insert_values(
        &self,
        conn: &mut AnyConnection,
        tenant: TenantId,
        pk: i64,
        rows: &[crate::index::ValueRow],
    ) -> Result<()> {
        for chunk in rows.chunks(CHUNK / 4) {
            let mut sql = Sql::new(self.backend);
            sql.push("INSERT INTO resource_values (resource_pk, tenant_id, path, elem, str, num) VALUES ");
            for (i, row) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind_int(pk)
                    .push(", ")
                    .bind_int(tenant)
                    .push(", ")
                    .bind_text(row.path.clone())
                    .push(", ");
                sql.bind_int(row.elem).push(", ");
                match &row.str {
                    Some(s) => sql.bind_text(s.clone()),
                    None => sql.bind(crate::sql::Arg::NullText),
                };
                sql.push(", ");
                match row.num {
                    Some(n) => sql.bind(crate::sql::Arg::Float(n)),
                    None => sql.bind(crate::sql::Arg::NullFloat),
                };
                sql.push(")");
            }
            query(sql).execute(&mut *conn).await.map_err(db_err)?;
        }
        Ok(())
    }

    /// Resolves member ids to storage keys and kinds, within the tenant.
    async fn resolve_ids(
        &self,
        conn: &mut AnyConnection,
        tenant: TenantId,
        ids: &[String],
    ) -> Result<HashMap<String, (i64, ResourceKind)>> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut sql = Sql::new(self.backend);
            // `+tenant_id`: without statistics SQLite would walk the tenant's rows by a
            // tenant-leading index instead of probing the unique `id` index once per value.
            sql.push("SELECT pk, kind, id FROM resources WHERE +tenant_id = ").bind_int(tenant).push(" AND id IN (");
            sql.bind_list(chunk.iter().map(|id| Arg::Text(id.clone())));
            sql.push(")");
            for row in query(sql).fetch_all(&mut *conn).await.map_err(db_err)? {
                let code: i64 = row.try_get("kind").map_err(db_err)?;
                let kind = kind_from_code(code).ok_or_else(|| Error::storage("unknown kind"))?;
                out.insert(row.try_get("id").map_err(db_err)?, (row.try_get("pk").map_err(db_err)?, kind));
            }
        }
        Ok(out)
    }

    /// Resolves member references, applying the tenant's rules: unknown ids skipped (and
    /// reported) or refused; group members only with nested groups on; a declared `type`
    /// must match; a group cannot contain itself.
    async fn resolve_members(
        &self,
        conn: &mut AnyConnection,
        scope: &WriteScope<'_>,
        group: &StoredResource,
        refs: &[MemberRef],
        report: &mut MemberReport,
        names: &mut HashMap<i64, String>,
    ) -> Result<Vec<(i64, ResourceKind)>> {
        let ids: Vec<String> = refs.iter().map(|m| m.value.clone()).collect();
        let found = self.resolve_ids(conn, scope.tenant, &ids).await?;
        let mut unknown = Vec::new();
        let mut out = Vec::with_capacity(refs.len());
        for m in refs {
            let Some(&(pk, kind)) = found.get(&m.value) else {
                unknown.push(m.value.clone());
                continue;
            };
            if pk == group.pk {
                return Err(Error::Scim(ScimError::invalid_value(format!(
                    "group {} cannot be a member of itself",
                    group.id
                ))));
            }
            let declared = m.member_type.map(|t| match t {
                MemberType::User => ResourceKind::User,
                MemberType::Group => ResourceKind::Group,
            });
            if declared.is_some_and(|d| d != kind) {
                return Err(Error::Scim(ScimError::invalid_value(format!(
                    "member {} is a {}, not a {}",
                    m.value,
                    kind.name(),
                    declared.map_or("", |d| d.name())
                ))));
            }
            if kind == ResourceKind::Group && !scope.rules.nested_groups {
                return Err(Error::Scim(ScimError::invalid_value(format!(
                    "member {} is a group; nested groups are not enabled for this tenant",
                    m.value
                ))));
            }
            names.insert(pk, m.value.clone());
            out.push((pk, kind));
        }
        if !unknown.is_empty() {
            if scope.rules.unknown == UnknownMembers::Reject {
                return Err(Error::Scim(ScimError::invalid_value(format!(
                    "no user or group has the member id(s) {}",
                    unknown.join(", ")
                ))));
            }
            report.unknown.extend(unknown);
        }
        Ok(out)
    }

    async fn insert_memberships(
        &self,
        conn: &mut AnyConnection,
        tenant: TenantId,
        group_pk: i64,
        members: &[(i64, ResourceKind)],
    ) -> Result<Vec<i64>> {
        let mut added = Vec::new();
        for chunk in members.chunks(CHUNK) {
            // Inserted from the member rows themselves, so a member deleted by a concurrent
            // transaction is skipped instead of failing the foreign key (a 500). On PostgreSQL
            // the new members' rows are key-share locked until this write commits: a concurrent
            // DELETE either waits for it or wins and the member is not added. Existing members
            // are filtered out first and never locked, so a delete that already holds the
            // member and waits for this group cannot deadlock with it.
            let mut sql = Sql::new(self.backend);
            sql.push("INSERT INTO memberships (group_pk, member_pk, tenant_id, member_kind) SELECT ")
                .bind_int(group_pk)
                // `+r.tenant_id` keeps the lookup on the primary key (see `resolve_ids`).
                .push(", r.pk, r.tenant_id, r.kind FROM resources r WHERE +r.tenant_id = ")
                .bind_int(tenant)
                .push(" AND r.pk IN (");
            sql.bind_list(chunk.iter().map(|(pk, _)| Arg::Int(*pk)));
            sql.push(") AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.group_pk = ")
                .bind_int(group_pk)
                .push(" AND m.member_pk = r.pk)");
            if self.backend == crate::Backend::Postgres {
                sql.push(" FOR KEY SHARE OF r");
            }
            sql.push(" ON CONFLICT DO NOTHING RETURNING member_pk");
            for row in query(sql).fetch_all(&mut *conn).await.map_err(db_err)? {
                added.push(row.try_get("member_pk").map_err(db_err)?);
            }
        }
        Ok(added)
    }

    async fn delete_memberships(
        &self,
        conn: &mut AnyConnection,
        group_pk: i64,
        member_pks: &[i64],
    ) -> Result<Vec<i64>> {
        let mut removed = Vec::new();
        for chunk in member_pks.chunks(CHUNK) {
            let mut sql = Sql::new(self.backend);
            sql.push("DELETE FROM memberships WHERE group_pk = ").bind_int(group_pk).push(" AND member_pk IN (");
            sql.bind_list(chunk.iter().map(|pk| Arg::Int(*pk)));
            sql.push(") RETURNING member_pk");
            for row in query(sql).fetch_all(&mut *conn).await.map_err(db_err)? {
                removed.push(row.try_get("member_pk").map_err(db_err)?);
            }
        }
        Ok(removed)
    }

    /// Applies membership operations in order, as set operations: O(changed members),
    /// except `replace` (which must compare with the whole set) and filters that are not
    /// plain id lists (which must read the members they test).
    async fn apply_member_ops(
        &self,
        conn: &mut AnyConnection,
        scope: &WriteScope<'_>,
        group: &StoredResource,
        ops: &[MemberOp],
        changes: &mut MemberChanges,
    ) -> Result<MemberReport> {
        let mut report = MemberReport::default();
        // Member ids by storage key, for the ids the write's event reports.
        let mut names: HashMap<i64, String> = HashMap::new();
        let mut added: Vec<i64> = Vec::new();
        let mut removed: Vec<i64> = Vec::new();
        for op in ops {
            match op {
                MemberOp::Add(refs) => {
                    let members = self.resolve_members(conn, scope, group, refs, &mut report, &mut names).await?;
                    added.extend(self.insert_memberships(conn, scope.tenant, group.pk, &members).await?);
                }
                MemberOp::Remove(ids) => {
                    let found = self.resolve_ids(conn, scope.tenant, ids).await?;
                    let pks: Vec<i64> = found.values().map(|(pk, _)| *pk).collect();
                    names.extend(found.into_iter().map(|(id, (pk, _))| (pk, id)));
                    removed.extend(self.delete_memberships(conn, group.pk, &pks).await?);
                }
                MemberOp::RemoveWhere(filter) => {
                    let current = self.member_rows(conn, group.pk).await?;
                    let pks: Vec<i64> = current
                        .iter()
                        .filter(|(_, related)| {
                            let element = serde_json::json!({
                                "value": related.id,
                                "type": related.kind.name(),
                                "display": related.display,
                            });
                            filter.matches_element(&element)
                        })
                        .map(|(pk, _)| *pk)
                        .collect();
                    names.extend(current.into_iter().map(|(pk, related)| (pk, related.id)));
                    removed.extend(self.delete_memberships(conn, group.pk, &pks).await?);
                }
                MemberOp::Replace(refs) => {
                    let wanted = self.resolve_members(conn, scope, group, refs, &mut report, &mut names).await?;
                    let wanted_pks: HashSet<i64> = wanted.iter().map(|(pk, _)| *pk).collect();
                    let rows = self.member_rows(conn, group.pk).await?;
                    let current: HashSet<i64> = rows.iter().map(|(pk, _)| *pk).collect();
                    let to_remove: Vec<i64> = current.difference(&wanted_pks).copied().collect();
                    let to_add: Vec<(i64, ResourceKind)> =
                        wanted.into_iter().filter(|(pk, _)| !current.contains(pk)).collect();
                    names.extend(rows.into_iter().map(|(pk, related)| (pk, related.id)));
                    removed.extend(self.delete_memberships(conn, group.pk, &to_remove).await?);
                    added.extend(self.insert_memberships(conn, scope.tenant, group.pk, &to_add).await?);
                }
            }
        }
        report.added = added.len() as u64;
        report.removed = removed.len() as u64;
        net_member_changes(&added, &removed, &names, changes);
        Ok(report)
    }

    async fn member_rows(&self, conn: &mut AnyConnection, group_pk: i64) -> Result<Vec<(i64, Related)>> {
        let rows = sqlx::query(
            "SELECT u.pk, u.id, u.kind, u.display FROM memberships m JOIN resources u ON u.pk = m.member_pk \
             WHERE m.group_pk = $1 ORDER BY u.pk",
        )
        .bind(group_pk)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let code: i64 = row.try_get("kind").map_err(db_err)?;
                Ok((
                    row.try_get("pk").map_err(db_err)?,
                    Related {
                        id: row.try_get("id").map_err(db_err)?,
                        kind: kind_from_code(code).ok_or_else(|| Error::storage("unknown kind"))?,
                        display: row.try_get("display").map_err(db_err)?,
                    },
                ))
            })
            .collect()
    }

    pub(crate) async fn delete_resource_impl(
        &self,
        scope: WriteScope<'_>,
        kind: ResourceKind,
        id: &str,
        check: Check<'_>,
        journal: Journal<'_>,
    ) -> Result<Option<StoredResource>> {
        let mut tx = self.writer.begin().await?;
        let Some(stored) = self.load_for_update(&mut tx, scope.tenant, kind, id).await? else {
            return Ok(None);
        };
        check(&stored)?;
        // Groups that lose a member change too (their version moves with their members).
        sqlx::query(
            "UPDATE resources SET version = version + 1, last_modified = $1 \
             WHERE pk IN (SELECT group_pk FROM memberships WHERE member_pk = $2)",
        )
        .bind(nanos(scope.now))
        .bind(stored.pk)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if kind == ResourceKind::User {
            self.clear_manager_references(&mut tx, &scope, &stored.id).await?;
        }
        sqlx::query("DELETE FROM resources WHERE pk = $1").bind(stored.pk).execute(&mut *tx).await.map_err(db_err)?;
        let report = MemberReport::default();
        let changes = MemberChanges::default();
        let written = Written { resource: &stored, members: &report, changed: true, member_changes: &changes };
        self.write_journal(&mut tx, journal, &written).await?;
        tx.commit().await?;
        Ok(Some(stored))
    }

    /// A19.6: users managed by a deleted user lose their `manager`, so no response ever
    /// points at a 404.
    async fn clear_manager_references(
        &self,
        conn: &mut AnyConnection,
        scope: &WriteScope<'_>,
        manager_id: &str,
    ) -> Result<()> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources r WHERE r.tenant_id = $1 AND r.kind = 1 AND EXISTS \
             (SELECT 1 FROM resource_values v WHERE v.resource_pk = r.pk AND v.path = $2 AND v.str = $3)"
        )))
        .bind(scope.tenant)
        .bind(manager_value_path())
        .bind(text::nfc(manager_id).into_owned())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        for row in rows {
            let mut report = resource_from_row(&row)?;
            let old_version = report.version;
            if let Some(Value::Object(ext)) = report.data.get_mut(ENTERPRISE_USER) {
                ext.remove("manager");
                if ext.is_empty() {
                    report.data.remove(ENTERPRISE_USER);
                }
            }
            report.version += 1;
            report.last_modified = scope.now;
            self.write_data(conn, scope, &report, old_version).await?;
        }
        Ok(())
    }

    pub(crate) async fn query_impl(&self, tenant: TenantId, q: &Query<'_>) -> Result<Page> {
        let mut filter = Sql::new(self.backend);
        filter.push("r.tenant_id = ").bind_int(tenant).push(" AND (");
        for (i, kf) in q.kinds.iter().enumerate() {
            if i > 0 {
                filter.push(" OR ");
            }
            filter.push(&format!("(r.kind = {} AND ", kind_code(kf.kind)));
            Compiler { registry: q.registry, kind: kf.kind, base_url: q.base_url }.filter(&mut filter, &kf.filter);
            filter.push(")");
        }
        if q.kinds.is_empty() {
            filter.push("1=0");
        }
        filter.push(")");
        // Without a count and with one statement, a plain read needs no transaction.
        if !q.count_total {
            let resources = self.page(&mut *self.read.acquire().await.map_err(db_err)?, q, filter).await?;
            return Ok(Page { total: 0, resources });
        }
        let mut count_sql = Sql::new(self.backend);
        count_sql.push("SELECT COUNT(*) AS n FROM resources r WHERE ").push(&filter.text);
        count_sql.args = filter.args.clone();
        // One snapshot for the count and the page, so totalResults agrees with the rows.
        let begin = match self.backend {
            crate::Backend::Sqlite => "BEGIN",
            crate::Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let mut tx = self.read.begin_with(begin).await.map_err(db_err)?;
        let total: i64 = query(count_sql).fetch_one(&mut *tx).await.map_err(db_err)?.try_get("n").map_err(db_err)?;
        let total = u64::try_from(total).unwrap_or(0);
        let resources = if q.limit > 0 && q.offset < total { self.page(&mut tx, q, filter).await? } else { Vec::new() };
        tx.commit().await.map_err(db_err)?;
        Ok(Page { total, resources })
    }

    /// One page of a query: `filter` is the WHERE clause built by `query_impl`.
    async fn page(&self, conn: &mut AnyConnection, q: &Query<'_>, filter: Sql) -> Result<Vec<StoredResource>> {
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let mut page = filter;
        page.text = format!("SELECT {RESOURCE_COLUMNS} FROM resources r WHERE {}", page.text);
        if let Some(after) = q.after {
            // Keyset paging walks the creation-order index: O(page), whatever the position.
            page.push(" AND r.pk > ").bind_int(after);
        }
        let sort_kind = q.kinds.first().map_or(ResourceKind::User, |k| k.kind);
        let kinds: Vec<ResourceKind> = q.kinds.iter().map(|k| k.kind).collect();
        order_by(
            &mut page,
            &Compiler { registry: q.registry, kind: sort_kind, base_url: q.base_url },
            &kinds,
            q.sort.as_ref(),
        );
        page.push(" LIMIT ").bind_int(i64::try_from(q.limit).unwrap_or(i64::MAX));
        page.push(" OFFSET ").bind_int(i64::try_from(q.offset).unwrap_or(i64::MAX));
        let rows = query(page).fetch_all(&mut *conn).await.map_err(db_err)?;
        rows.iter().map(resource_from_row).collect()
    }

    /// Related resources for a set of storage keys, in one query per chunk.
    async fn related(&self, tenant: TenantId, pks: &[i64], as_groups: bool) -> Result<HashMap<i64, Vec<Related>>> {
        let (key, join) = if as_groups { ("m.member_pk", "m.group_pk") } else { ("m.group_pk", "m.member_pk") };
        let mut out: HashMap<i64, Vec<Related>> = HashMap::new();
        for chunk in pks.chunks(CHUNK) {
            let mut sql = Sql::new(self.backend);
            sql.push(&format!(
                "SELECT {key} AS owner, u.id, u.kind, u.display FROM memberships m JOIN resources u ON u.pk = {join} \
                 WHERE m.tenant_id = "
            ));
            sql.bind_int(tenant).push(&format!(" AND {key} IN ("));
            sql.bind_list(chunk.iter().map(|pk| Arg::Int(*pk)));
            sql.push(&format!(") ORDER BY {key}, u.pk"));
            for row in query(sql).fetch_all(&self.read).await.map_err(db_err)? {
                let code: i64 = row.try_get("kind").map_err(db_err)?;
                out.entry(row.try_get("owner").map_err(db_err)?).or_default().push(Related {
                    id: row.try_get("id").map_err(db_err)?,
                    kind: kind_from_code(code).ok_or_else(|| Error::storage("unknown kind"))?,
                    display: row.try_get("display").map_err(db_err)?,
                });
            }
        }
        Ok(out)
    }

    pub(crate) async fn members_of_impl(&self, tenant: TenantId, groups: &[i64]) -> Result<HashMap<i64, Vec<Related>>> {
        self.related(tenant, groups, false).await
    }

    pub(crate) async fn groups_of_impl(&self, tenant: TenantId, users: &[i64]) -> Result<HashMap<i64, Vec<Related>>> {
        self.related(tenant, users, true).await
    }

    pub(crate) async fn user_displays_impl(&self, tenant: TenantId, ids: &[String]) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let mut sql = Sql::new(self.backend);
            // Unary `+` keeps the lookup on the unique `id` index (see `resolve_ids`).
            sql.push("SELECT id, display FROM resources WHERE +tenant_id = ")
                .bind_int(tenant)
                .push(" AND +kind = 1 AND id IN (");
            sql.bind_list(chunk.iter().map(|id| Arg::Text(id.clone())));
            sql.push(")");
            for row in query(sql).fetch_all(&self.read).await.map_err(db_err)? {
                out.insert(row.try_get("id").map_err(db_err)?, row.try_get("display").map_err(db_err)?);
            }
        }
        Ok(out)
    }
}

impl SqlStore {
    /// Users whose value index has a row at `path` with (optionally) this comparison key.
    async fn users_with_value(
        &self,
        conn: &mut AnyConnection,
        tenant: TenantId,
        path: &str,
        key: Option<&str>,
    ) -> Result<Vec<StoredResource>> {
        let mut sql = Sql::new(self.backend);
        sql.push(&format!("SELECT {RESOURCE_COLUMNS} FROM resources r WHERE r.tenant_id = "));
        sql.bind_int(tenant);
        sql.push(
            " AND r.kind = 1 AND EXISTS (SELECT 1 FROM resource_values v WHERE v.resource_pk = r.pk AND v.path = ",
        );
        sql.bind_text(path);
        if let Some(key) = key {
            sql.push(" AND v.str = ").bind_text(key);
        }
        sql.push(")");
        query(sql).fetch_all(&mut *conn).await.map_err(db_err)?.iter().map(resource_from_row).collect()
    }

    fn maintenance_scope<'r>(
        tenant: TenantId,
        registry: &'r roster_scim::Registry,
        now: time::OffsetDateTime,
    ) -> WriteScope<'r> {
        WriteScope {
            tenant,
            registry,
            now,
            rules: roster_core::store::MemberRules { unknown: UnknownMembers::Skip, nested_groups: false },
        }
    }

    /// Deletes every stored value of an extension attribute (its definition is going away).
    pub(crate) async fn purge_extension_attribute(
        &self,
        conn: &mut AnyConnection,
        tenant: TenantId,
        registry: &roster_scim::Registry,
        urn: &str,
        name: &str,
        now: time::OffsetDateTime,
    ) -> Result<()> {
        let scope = Self::maintenance_scope(tenant, registry, now);
        for mut user in self.users_with_value(conn, tenant, &format!("{urn}:{name}"), None).await? {
            let old_version = user.version;
            if let Some(Value::Object(ext)) = user.data.get_mut(urn) {
                ext.remove(name);
                if ext.is_empty() {
                    user.data.remove(urn);
                }
            }
            user.version += 1;
            user.last_modified = now;
            self.write_data(conn, &scope, &user, old_version).await?;
        }
        Ok(())
    }

    /// Moves stored extension data from `old` to `new` (the tenant renamed its vendor).
    pub(crate) async fn rename_extension(
        &self,
        conn: &mut AnyConnection,
        tenant: TenantId,
        registry: &roster_scim::Registry,
        old: &str,
        new: &str,
        now: time::OffsetDateTime,
    ) -> Result<()> {
        let scope = Self::maintenance_scope(tenant, registry, now);
        let key = text::fold(old);
        for mut user in self.users_with_value(conn, tenant, "schemas", Some(&key)).await? {
            let old_version = user.version;
            if let Some(v) = user.data.remove(old) {
                user.data.insert(new.to_string(), v);
            }
            user.data = roster_scim::resource::canonical_order(registry, ResourceKind::User, user.data);
            user.version += 1;
            user.last_modified = now;
            self.write_data(conn, &scope, &user, old_version).await?;
        }
        Ok(())
    }
}

/// The members a write added and removed, by id, netted: a member added and removed again
/// in the same write (or the reverse) did not change.
fn net_member_changes(added: &[i64], removed: &[i64], names: &HashMap<i64, String>, out: &mut MemberChanges) {
    let mut net: HashMap<i64, i64> = HashMap::new();
    for pk in added {
        *net.entry(*pk).or_default() += 1;
    }
    for pk in removed {
        *net.entry(*pk).or_default() -= 1;
    }
    let mut seen = HashSet::new();
    for pk in added {
        if net.get(pk).is_some_and(|n| *n > 0) && seen.insert(*pk) {
            out.added.extend(names.get(pk).cloned());
        }
    }
    for pk in removed {
        if net.get(pk).is_some_and(|n| *n < 0) && seen.insert(*pk) {
            out.removed.extend(names.get(pk).cloned());
        }
    }
}
