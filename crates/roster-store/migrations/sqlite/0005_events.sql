-- Events for the owning application (SQLite): RFC 9967 provisioning events, recorded in the
-- transaction of each change (a transactional outbox), and the receivers ("streams") they
-- are delivered to by push (RFC 8935) or poll (RFC 8936).

-- event_seq: the tenant's last event number, allocated under the tenant row's lock so events
-- become visible in order with no gaps. event_streams: how many streams the tenant has; no
-- events are recorded while it is 0.
ALTER TABLE tenants ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN event_streams INTEGER NOT NULL DEFAULT 0;

-- One row per change. op: create, patch, put or delete; activation: activate or deactivate.
-- attributes, members_added and members_removed are JSON arrays; data the stored attribute
-- data after the change (NULL for a delete).
CREATE TABLE events (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    txn TEXT NOT NULL,
    op TEXT NOT NULL,
    activation TEXT,
    kind INTEGER NOT NULL,
    resource_id TEXT NOT NULL,
    external_id TEXT,
    version INTEGER NOT NULL,
    created INTEGER NOT NULL,
    last_modified INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    data TEXT,
    members_added TEXT NOT NULL,
    members_removed TEXT NOT NULL,
    token_id TEXT,
    idp TEXT,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX events_at ON events (at);

-- Per-tenant ES256 signing keys (the secret scalar; the public JWK is served as JWKS).
CREATE TABLE event_keys (
    kid TEXT PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    alg TEXT NOT NULL,
    secret BLOB NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);
CREATE UNIQUE INDEX event_keys_current ON event_keys (tenant_id) WHERE retired_at IS NULL;

-- cursor: the last event delivered (push) or acknowledged in order (poll). Push delivery
-- state: attempts, next_attempt_at, and a lease (lease_owner until lease_until) so one
-- instance at a time delivers a stream.
CREATE TABLE event_streams (
    id TEXT PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    delivery TEXT NOT NULL,
    endpoint TEXT,
    auth_header TEXT,
    poll_secret_hash BLOB,
    event_types TEXT NOT NULL,
    mode TEXT NOT NULL,
    aud TEXT NOT NULL,
    signed INTEGER NOT NULL,
    status TEXT NOT NULL,
    paused_reason TEXT,
    flagged INTEGER NOT NULL DEFAULT 0,
    cursor INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    last_success_at INTEGER,
    last_error TEXT,
    lease_owner TEXT,
    lease_until INTEGER,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX event_streams_tenant ON event_streams (tenant_id);

-- Poll: events acknowledged (or reported as errors) beyond the cursor.
CREATE TABLE event_acks (
    stream_id TEXT NOT NULL REFERENCES event_streams (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    PRIMARY KEY (stream_id, seq)
);

-- The delivery log: one row per push attempt, acknowledgement, rejection or skip.
CREATE TABLE event_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL REFERENCES event_streams (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    jti TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    status INTEGER,
    error TEXT,
    latency_ms INTEGER NOT NULL
);
CREATE INDEX event_deliveries_stream ON event_deliveries (stream_id, id);
CREATE INDEX event_deliveries_at ON event_deliveries (at);
