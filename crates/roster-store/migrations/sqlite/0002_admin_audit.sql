-- Administrators, sessions, API keys, the audit trail and the provisioning log (SQLite).
CREATE TABLE admins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Only SHA-256 of the session cookie is kept.
CREATE TABLE admin_sessions (
    id_hash BLOB PRIMARY KEY,
    admin_id INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);

-- tenant_id NULL: the key works for every tenant. scope: admin (full) or read.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    tenant_id INTEGER REFERENCES tenants (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    last_used_at INTEGER
);

-- Append-only. tenant_id NULL for installation-wide events (admin accounts, sign-ins).
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER,
    at INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    event TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX audit_events_tenant_at ON audit_events (tenant_id, at);
CREATE INDEX audit_events_tenant_event ON audit_events (tenant_id, event, id);

-- One row per SCIM request: identifiers and outcomes only, never attribute values.
CREATE TABLE provisioning_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    token_id TEXT,
    idp TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    resource_type TEXT,
    resource_id TEXT,
    summary TEXT NOT NULL,
    notes TEXT NOT NULL,
    status INTEGER NOT NULL,
    scim_type TEXT,
    latency_us INTEGER NOT NULL
);
CREATE INDEX provisioning_log_tenant ON provisioning_log (tenant_id, id);
CREATE INDEX provisioning_log_at ON provisioning_log (at);
CREATE INDEX provisioning_log_resource ON provisioning_log (tenant_id, resource_id);
