-- Roster schema, version 1 (SQLite). Timestamps are Unix nanoseconds; booleans are 0/1.
CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    settings TEXT NOT NULL,
    schema_version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    idp TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER
);
CREATE INDEX scim_tokens_tenant ON scim_tokens (tenant_id);

CREATE TABLE custom_attributes (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    type TEXT NOT NULL,
    multi_valued INTEGER NOT NULL,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name_key)
);

-- Users (kind 1) and groups (kind 2): canonical JSON plus the columns hot lookups need.
-- unique_key is the case-folded userName (users) or displayName (groups).
CREATE TABLE resources (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    unique_key TEXT NOT NULL,
    external_id TEXT,
    active INTEGER,
    display TEXT NOT NULL,
    display_key TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_modified INTEGER NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX resources_unique_key ON resources (tenant_id, kind, unique_key);
CREATE INDEX resources_list ON resources (tenant_id, kind, pk);
CREATE INDEX resources_external_id ON resources (tenant_id, kind, external_id);
CREATE INDEX resources_last_modified ON resources (tenant_id, kind, last_modified);
CREATE INDEX resources_display_key ON resources (tenant_id, kind, display_key);

-- Every other filterable value, one row per (attribute path, element): `str` holds the
-- comparison key (case-folded unless caseExact; dateTimes in sortable form), `num` numbers
-- and booleans.
CREATE TABLE resource_values (
    resource_pk INTEGER NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL,
    path TEXT NOT NULL,
    elem INTEGER NOT NULL,
    str TEXT,
    num REAL
);
CREATE INDEX resource_values_str ON resource_values (tenant_id, path, str);
CREATE INDEX resource_values_num ON resource_values (tenant_id, path, num);
CREATE INDEX resource_values_resource ON resource_values (resource_pk, path);

-- Group membership: a set, changed row by row (O(changed members)).
CREATE TABLE memberships (
    group_pk INTEGER NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    member_pk INTEGER NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL,
    member_kind INTEGER NOT NULL,
    PRIMARY KEY (group_pk, member_pk)
) WITHOUT ROWID;
CREATE INDEX memberships_member ON memberships (member_pk);
