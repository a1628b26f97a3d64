//! Events for the application that owns the provisioned data: every SCIM change is recorded
//! as an event in the transaction of the change (a transactional outbox, with a gap-free
//! per-tenant sequence), and delivered to the tenant's registered receivers ("streams") as
//! Security Event Tokens (RFC 8417) in the SCIM profile of RFC 9967, pushed (RFC 8935) or
//! polled (RFC 8936).
//!
//! Choices where the RFCs leave one (docs/events.md explains them to receivers):
//! - One SET per change, carrying every event URI of that change (RFC 9967 §2.1): a PATCH
//!   that sets `active: false` is `prov:patch:*` and `prov:deactivate` in one SET.
//! - `full` events carry the resource's representation at that version in `data` (RFC 9967
//!   §2.4), without the derived `members`/`groups`; a group's member changes travel as ids
//!   in the payload member `membership` (`added`, `removed`) in both modes.
//! - `txn` is the change, `jti` is the change for one stream (`<stream>-<seq>`): a
//!   retransmission is the same SET with the same `jti`.
//! - Delivery is in order per stream (so per subject), at least once.

pub mod jws;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use tokio::sync::Notify;

use roster_scim::resource::{Derived, Meta, etag};
use roster_scim::{ResourceKind, render};

use crate::audit::{Actor, AuditEntry, AuditEvent};
use crate::error::{AuthFailure, Error, Result};
use crate::model::{Tenant, TenantId};
use crate::scim::{Core, ScimCtx};
use crate::store::{Journal, JournalRow, Written};
use crate::tokens;

/// The prefix of the provisioning event URIs (RFC 9967 §2.4).
pub const PROV_PREFIX: &str = "urn:ietf:params:scim:event:prov:";
/// The prefix of poll-stream bearer tokens.
pub const POLL_TOKEN_PREFIX: &str = "rosterevt_";

/// A provisioning event type (RFC 9967 §2.4.1 to §2.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    Create,
    Patch,
    Put,
    Delete,
    Activate,
    Deactivate,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::Create,
        EventType::Patch,
        EventType::Put,
        EventType::Delete,
        EventType::Activate,
        EventType::Deactivate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Create => "create",
            EventType::Patch => "patch",
            EventType::Put => "put",
            EventType::Delete => "delete",
            EventType::Activate => "activate",
            EventType::Deactivate => "deactivate",
        }
    }

    /// Parses `create`, `prov:create` or a full event URI, with or without `:notice`/`:full`
    /// (the stream's mode decides the suffix), case-insensitively.
    pub fn parse(s: &str) -> Option<EventType> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix("urn:ietf:params:scim:event:").unwrap_or(&s);
        let s = s.strip_prefix("prov:").unwrap_or(s);
        let s = s.strip_suffix(":notice").or_else(|| s.strip_suffix(":full")).unwrap_or(s);
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether the event has `notice` and `full` variants.
    pub fn has_mode(self) -> bool {
        matches!(self, EventType::Create | EventType::Patch | EventType::Put)
    }

    /// The event URI (RFC 9967 §7.4).
    pub fn uri(self, mode: EventMode) -> String {
        if self.has_mode() {
            format!("{PROV_PREFIX}{}:{}", self.as_str(), mode.as_str())
        } else {
            format!("{PROV_PREFIX}{}", self.as_str())
        }
    }
}

/// `notice` (changed attribute names) or `full` (the data) events (RFC 9967 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventMode {
    #[default]
    Notice,
    Full,
}

impl EventMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EventMode::Notice => "notice",
            EventMode::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<EventMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "notice" => Some(EventMode::Notice),
            "full" => Some(EventMode::Full),
            _ => None,
        }
    }
}

/// An event to record, built inside the write transaction from what the write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    pub tenant: TenantId,
    pub at: OffsetDateTime,
    /// The change (RFC 8417 §2.2 `txn`): the same in every SET issued for it.
    pub txn: String,
    /// Create, Patch, Put or Delete.
    pub op: EventType,
    /// Activate or Deactivate, when the change moved `active`.
    pub activation: Option<EventType>,
    pub kind: ResourceKind,
    pub resource_id: String,
    pub external_id: Option<String>,
    /// The resource's version after the change (before it, for a delete).
    pub version: i64,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    /// Paths of the attributes that changed (`members` when membership did).
    pub attributes: Vec<String>,
    /// The stored attribute data after the change; `None` for a delete.
    pub data: Option<Map<String, Value>>,
    pub members_added: Vec<String>,
    pub members_removed: Vec<String>,
    /// The SCIM token (and its IdP) that made the change.
    pub token_id: Option<String>,
    pub idp: Option<String>,
}

impl EventEntry {
    /// The event types this change is, in the order they appear in its SET.
    pub fn types(&self) -> Vec<EventType> {
        let mut out = vec![self.op];
        out.extend(self.activation);
        out
    }
}

/// A recorded event with its position in the tenant's sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: EventEntry,
}

/// Wraps a write's journal so it also records the change's event.
pub fn with_event<'a>(
    journal: Journal<'a>,
    event: impl FnOnce(&Written<'_>) -> Option<JournalRow> + Send + 'a,
) -> Journal<'a> {
    Some(Box::new(move |written: &Written<'_>| {
        let mut rows = journal.map(|build| build(written)).unwrap_or_default();
        rows.extend(event(written));
        rows
    }))
}

/// The event of a write, built from its outcome: nothing when nothing was written.
/// `changed` gives the attributes a PUT or PATCH changed (learnt inside the transaction).
pub fn record<'a>(
    ctx: &'a ScimCtx,
    at: OffsetDateTime,
    txn: String,
    op: EventType,
    kind: ResourceKind,
    changed: impl FnOnce() -> Vec<String> + Send + 'a,
) -> impl FnOnce(&Written<'_>) -> Option<JournalRow> + Send + 'a {
    move |w: &Written<'_>| {
        if !w.changed {
            return None;
        }
        let resource = w.resource;
        let members = w.member_changes;
        let mut attributes = match op {
            EventType::Create => roster_scim::patch::changed_paths(&ctx.registry, kind, &Map::new(), &resource.data),
            EventType::Delete => Vec::new(),
            _ => changed(),
        };
        if !members.added.is_empty() || !members.removed.is_empty() {
            attributes.push("members".into());
        }
        let active = resource.data.get("active").and_then(Value::as_bool);
        let activation = match op {
            EventType::Create => (active == Some(true)).then_some(EventType::Activate),
            EventType::Patch | EventType::Put if attributes.iter().any(|a| a == "active") => match active {
                Some(true) => Some(EventType::Activate),
                Some(false) => Some(EventType::Deactivate),
                None => None,
            },
            _ => None,
        };
        Some(JournalRow::Event(Box::new(EventEntry {
            tenant: ctx.tenant.id,
            at,
            txn,
            op,
            activation,
            kind,
            resource_id: resource.id.clone(),
            external_id: resource.data.get("externalId").and_then(Value::as_str).map(str::to_string),
            version: resource.version,
            created: resource.created,
            last_modified: resource.last_modified,
            attributes,
            data: (op != EventType::Delete).then(|| resource.data.clone()),
            members_added: members.added.clone(),
            members_removed: members.removed.clone(),
            token_id: ctx.token.as_ref().map(|t| t.id.clone()),
            idp: ctx.token.as_ref().map(|t| t.idp.as_str().to_string()),
        })))
    }
}

/// Wakes whatever waits for new events in this process (the push worker, long polls).
/// Other instances notice new events on their next check.
#[derive(Debug, Default)]
pub struct EventHub {
    notify: Notify,
}

impl EventHub {
    /// Something was written: wake the waiters.
    pub fn changed(&self) {
        self.notify.notify_waiters();
    }

    /// Resolves at the next [`EventHub::changed`] (call `enable` on it before looking).
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// Runs `check` until it returns `Some`, waking on local writes and at least every
    /// `recheck`, for at most `max`; `None` when the time runs out.
    pub async fn wait_for<T, F, Fut>(&self, max: Duration, recheck: Duration, mut check: F) -> Result<Option<T>>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>>>,
    {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            // Registered before the check, so a write that lands during it still wakes us.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = check().await? {
                return Ok(Some(found));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let sleep = recheck.min(deadline - now);
            let _ = tokio::time::timeout(sleep, notified).await;
        }
    }
}

// --- Streams ---------------------------------------------------------------------------

/// How a stream's SETs reach the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Delivery {
    /// Roster POSTs each SET to the receiver's endpoint (RFC 8935).
    Push,
    /// The receiver POSTs to Roster for SETs and acknowledges them (RFC 8936).
    Poll,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Push => "push",
            Delivery::Poll => "poll",
        }
    }

    pub fn parse(s: &str) -> Option<Delivery> {
        match s.trim().to_ascii_lowercase().as_str() {
            "push" => Some(Delivery::Push),
            "poll" => Some(Delivery::Poll),
            _ => None,
        }
    }
}

/// Whether a stream delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StreamStatus {
    Active,
    /// By an administrator, or by Roster after the receiver kept failing or rejected a SET.
    /// Events keep accumulating; nothing is dropped. Resuming continues where it stopped.
    Paused,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Active => "active",
            StreamStatus::Paused => "paused",
        }
    }

    pub fn parse(s: &str) -> Option<StreamStatus> {
        match s {
            "active" => Some(StreamStatus::Active),
            "paused" => Some(StreamStatus::Paused),
            _ => None,
        }
    }
}

/// A registered receiver of a tenant's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    pub id: String,
    pub tenant: TenantId,
    pub tenant_slug: String,
    pub name: String,
    pub delivery: Delivery,
    /// Push: the receiver's endpoint.
    pub endpoint: Option<String>,
    /// Push: the `Authorization` header value sent with each SET.
    pub authorization: Option<String>,
    /// Poll: SHA-256 of the receiver's bearer token secret.
    pub poll_secret_hash: Option<Vec<u8>>,
    pub event_types: Vec<EventType>,
    pub mode: EventMode,
    pub aud: Vec<String>,
    /// `false`: SETs are unsecured (`alg: none`), by the administrator's explicit choice.
    pub signed: bool,
    pub status: StreamStatus,
    pub paused_reason: Option<String>,
    /// Needs an administrator's attention (paused by Roster, or the receiver reported errors).
    pub flagged: bool,
    /// The last event (tenant sequence) delivered and acknowledged, or not meant for it.
    pub cursor: i64,
    /// Consecutive failed attempts at the next event (push).
    pub attempts: i64,
    pub next_attempt_at: OffsetDateTime,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_success_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub created_by: String,
}

impl StreamRecord {
    pub fn wants(&self, t: EventType) -> bool {
        self.event_types.contains(&t)
    }

    /// The `jti` of the SET of event `seq` on this stream.
    pub fn jti(&self, seq: i64) -> String {
        format!("{}-{seq}", self.id)
    }

    /// The event sequence number in one of this stream's `jti`s.
    pub fn seq_of(&self, jti: &str) -> Option<i64> {
        let (stream, seq) = jti.rsplit_once('-')?;
        (stream == self.id).then(|| seq.parse().ok()).flatten()
    }
}

/// A change an administrator (or the push worker) makes to a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChange {
    Pause {
        reason: String,
        flagged: bool,
    },
    /// Active again, retrying at once; `skip_to` moves the cursor past an event the
    /// receiver keeps rejecting (logged as skipped).
    Resume {
        skip_to: Option<(i64, String)>,
        at: OffsetDateTime,
    },
    Delete,
}

/// A signing key of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKeyRecord {
    pub kid: String,
    pub tenant: TenantId,
    /// The P-256 secret scalar.
    pub secret: Vec<u8>,
    pub public_jwk: Value,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

/// Which events to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub tenant: TenantId,
    /// Events after this sequence number...
    pub after: i64,
    /// ...up to and including this one, if given.
    pub upto: Option<i64>,
    /// Only events that are one of these types.
    pub types: Vec<EventType>,
    /// Leave out events this (poll) stream has acknowledged.
    pub unacked_by: Option<String>,
    pub limit: u32,
}

/// What happened to one delivery attempt or acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryOutcome {
    /// Push: the receiver accepted the SET (202).
    Delivered,
    /// Push: the attempt failed and will be retried (or the stream paused).
    Failed,
    /// The receiver rejected the SET (push: 400 with an RFC 8935 error; poll: `setErrs`).
    Rejected,
    /// Poll: the receiver acknowledged the SET.
    Acknowledged,
    /// An administrator resumed the stream past this event.
    Skipped,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::Rejected => "rejected",
            DeliveryOutcome::Acknowledged => "acknowledged",
            DeliveryOutcome::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryOutcome> {
        [
            DeliveryOutcome::Delivered,
            DeliveryOutcome::Failed,
            DeliveryOutcome::Rejected,
            DeliveryOutcome::Acknowledged,
            DeliveryOutcome::Skipped,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// A delivery-log row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEntry {
    pub stream_id: String,
    pub at: OffsetDateTime,
    pub seq: i64,
    pub jti: String,
    pub attempt: i64,
    pub outcome: DeliveryOutcome,
    /// The receiver's HTTP status (push).
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

/// A stored delivery-log row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryRecord {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The event's position in the tenant's sequence.
    pub seq: i64,
    pub jti: String,
    pub attempt: i64,
    pub outcome: DeliveryOutcome,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

/// How the push worker moves a stream it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushUpdate {
    /// Every event up to `to` is delivered or not meant for the stream; the cursor moves from
    /// `from` (only if it is still there: a worker that lost its lease changes nothing).
    Advance { from: i64, to: i64, at: OffsetDateTime },
    /// An attempt failed: retry at `retry_at`, or pause the stream with `pause` as reason.
    Failed { attempts: i64, at: OffsetDateTime, retry_at: OffsetDateTime, error: String, pause: Option<String> },
    /// Let go of the stream (nothing more to do now).
    Release,
}

// --- Push delivery policy ----------------------------------------------------------------

/// Retry timing of push delivery (configurable so tests run fast).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; doubled after each further one.
    pub base: Duration,
    /// The longest wait between attempts.
    pub max: Duration,
    /// Consecutive failures after which the stream is paused and flagged.
    pub max_attempts: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { base: Duration::from_secs(2), max: Duration::from_secs(600), max_attempts: 20 }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempts + 1`, after `attempts` failures: exponential, capped,
    /// with jitter in its upper half (`jitter` in 0..=1) so receivers coming back are not
    /// hit by every stream at once; at least `retry_after` when the receiver asked for it.
    pub fn delay(&self, attempts: i64, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let raw = self.base.saturating_mul(1u32 << exp.min(30)).min(self.max);
        let jittered = raw.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        match retry_after {
            Some(r) => jittered.max(r.min(self.max)),
            None => jittered,
        }
    }
}

/// What a push attempt came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushResult {
    /// An HTTP response.
    Response { status: u16, body: String, retry_after: Option<Duration> },
    /// No response: a timeout or a connection failure.
    Transport(String),
}

/// How an attempt is judged (RFC 8935 §2.3, §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// The receiver rejected the SET itself (400 with an `err` code): retrying cannot help,
    /// so the stream is paused and flagged rather than the event dropped.
    Rejected(String),
    /// Anything else: retried with backoff.
    Retry {
        error: String,
        retry_after: Option<Duration>,
    },
}

/// Classifies a push attempt. RFC 8935 asks for 202; any 2xx counts as accepted (lenient in
/// what Roster reads).
pub fn classify(result: &PushResult) -> Verdict {
    match result {
        PushResult::Response { status, .. } if (200..300).contains(status) => Verdict::Delivered,
        PushResult::Response { status: 400, body, retry_after } => {
            let parsed: Option<Value> = serde_json::from_str(body).ok();
            match parsed.as_ref().and_then(|v| v.get("err")).and_then(Value::as_str) {
                Some(err) => {
                    let description =
                        parsed.as_ref().and_then(|v| v.get("description")).and_then(Value::as_str).unwrap_or_default();
                    Verdict::Rejected(format!("400 {err}: {}", truncate(description, 300)))
                }
                None => Verdict::Retry { error: format!("400: {}", truncate(body, 300)), retry_after: *retry_after },
            }
        }
        PushResult::Response { status, body, retry_after } => {
            Verdict::Retry { error: format!("{status}: {}", truncate(body, 300)), retry_after: *retry_after }
        }
        PushResult::Transport(e) => Verdict::Retry { error: truncate(e, 300), retry_after: None },
    }
}

fn truncate(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max).collect::<String>()) }
}

// --- Admin views ---------------------------------------------------------------------------

/// What an administrator asks for when registering a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct StreamSpec {
    pub name: String,
    /// `push` or `poll`.
    pub delivery: String,
    /// Push: the receiver's HTTPS endpoint (HTTP only on loopback, or with `allow_http`).
    pub endpoint: Option<String>,
    /// Push: the `Authorization` header value to send, e.g. `Bearer abc`.
    pub authorization: Option<String>,
    /// Event types (`create`, `patch`, `put`, `delete`, `activate`, `deactivate`, or their
    /// URIs); empty: all of them.
    pub events: Vec<String>,
    /// `notice` (the default) or `full`.
    pub mode: Option<String>,
    /// The SET audience; default: the push endpoint, or the poll URL.
    pub aud: Vec<String>,
    /// Send unsecured SETs (`alg: none`): only for a trusted network.
    pub unsigned: bool,
    /// Allow a plain-HTTP push endpoint that is not on loopback (a trusted network).
    pub allow_http: bool,
}

/// A stream as the admin API and CLI show it (never the push authorization value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamView {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub delivery: Delivery,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Whether an Authorization header is sent (its value is never shown).
    pub authorization_set: bool,
    /// Poll: where the receiver polls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_url: Option<String>,
    /// The event URIs delivered.
    pub events: Vec<String>,
    pub mode: EventMode,
    pub aud: Vec<String>,
    pub signed: bool,
    pub status: StreamStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    pub flagged: bool,
    /// The last event delivered (or acknowledged).
    pub cursor: i64,
    /// The tenant's latest event; `latest - cursor` bounds the backlog.
    pub latest: i64,
    pub attempts: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_success_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    /// Where the SETs' verification keys are published.
    pub jwks_url: String,
}

/// A stream just registered: a poll stream's bearer token is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedStream {
    pub stream: StreamView,
    /// Poll: the receiver's bearer token (shown once; never stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_token: Option<String>,
}

/// The SCIM base URL of a tenant: the SETs' issuer.
pub fn issuer(public_url: &str, slug: &str) -> String {
    crate::tenants::target_url(public_url, slug)
}

/// Where a tenant's JWKS is served.
pub fn jwks_url(public_url: &str, slug: &str) -> String {
    format!("{}/.well-known/jwks.json", issuer(public_url, slug))
}

/// Where a poll stream is polled.
pub fn poll_url(public_url: &str, slug: &str, stream: &str) -> String {
    format!("{}/.events/{stream}", issuer(public_url, slug))
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_endpoint(url: &str, allow_http: bool) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").ok_or_else(|| bad_endpoint(url))?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
        return Err(bad_endpoint(url));
    }
    match scheme {
        "https" => Ok(()),
        "http" if allow_http || is_loopback_url(url) => Ok(()),
        "http" => Err(Error::Invalid(
            "push endpoints must be https (RFC 8935 §5): plain http only on loopback, or with allow_http for a trusted network"
                .into(),
        )),
        _ => Err(bad_endpoint(url)),
    }
}

fn bad_endpoint(url: &str) -> Error {
    Error::Invalid(format!("{url:?} is not an http(s) URL"))
}

/// The SET claims of `event` for `stream` (RFC 8417 §2.2, RFC 9967 §2), or `None` when
/// none of the event's types is meant for the stream. `data` is the rendered resource for
/// `full` streams.
pub fn set_claims(
    stream: &StreamRecord,
    stored: &StoredEvent,
    iss: &str,
    data: Option<&Map<String, Value>>,
) -> Option<Value> {
    let e = &stored.event;
    let mut events = Map::new();
    for t in e.types() {
        if !stream.wants(t) {
            continue;
        }
        let mut payload = Map::new();
        if t.has_mode() {
            payload.insert("version".into(), json!(etag(e.version)));
            match (stream.mode, data) {
                (EventMode::Full, Some(d)) => {
                    payload.insert("data".into(), Value::Object(d.clone()));
                }
                _ => {
                    payload.insert("attributes".into(), json!(e.attributes));
                }
            }
            if e.kind == ResourceKind::Group && (!e.members_added.is_empty() || !e.members_removed.is_empty()) {
                payload.insert("membership".into(), json!({"added": e.members_added, "removed": e.members_removed}));
            }
        }
        events.insert(t.uri(stream.mode), Value::Object(payload));
    }
    if events.is_empty() {
        return None;
    }
    let mut sub_id = Map::new();
    sub_id.insert("format".into(), json!("scim"));
    sub_id.insert("uri".into(), json!(format!("{}/{}", e.kind.endpoint(), e.resource_id)));
    sub_id.insert("id".into(), json!(e.resource_id));
    if let Some(x) = &e.external_id {
        sub_id.insert("externalId".into(), json!(x));
    }
    let aud = match stream.aud.as_slice() {
        [one] => json!(one),
        many => json!(many),
    };
    Some(json!({
        "iss": iss,
        "iat": e.at.unix_timestamp(),
        "jti": stream.jti(stored.seq),
        "aud": aud,
        "txn": e.txn,
        "sub_id": Value::Object(sub_id),
        "events": Value::Object(events),
    }))
}

fn stream_view(s: &StreamRecord, latest: i64, public_url: &str) -> StreamView {
    StreamView {
        id: s.id.clone(),
        tenant: s.tenant_slug.clone(),
        name: s.name.clone(),
        delivery: s.delivery,
        endpoint: s.endpoint.clone(),
        authorization_set: s.authorization.is_some(),
        poll_url: (s.delivery == Delivery::Poll).then(|| poll_url(public_url, &s.tenant_slug, &s.id)),
        events: s.event_types.iter().map(|t| t.uri(s.mode)).collect(),
        mode: s.mode,
        aud: s.aud.clone(),
        signed: s.signed,
        status: s.status,
        paused_reason: s.paused_reason.clone(),
        flagged: s.flagged,
        cursor: s.cursor,
        latest,
        attempts: s.attempts,
        next_attempt_at: (s.delivery == Delivery::Push && s.attempts > 0).then_some(s.next_attempt_at),
        last_attempt_at: s.last_attempt_at,
        last_success_at: s.last_success_at,
        last_error: s.last_error.clone(),
        created_at: s.created_at,
        created_by: s.created_by.clone(),
        jwks_url: jwks_url(public_url, &s.tenant_slug),
    }
}

// --- Polling (RFC 8936) ------------------------------------------------------------------

/// A poll request body (RFC 8936 §2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollRequest {
    /// `None`: up to [`POLL_MAX_EVENTS`]; `Some(0)`: acknowledge only.
    pub max_events: Option<u32>,
    pub return_immediately: bool,
    pub ack: Vec<String>,
    /// `jti` → (`err`, `description`).
    pub set_errs: Vec<(String, String, String)>,
}

/// The most SETs one poll response carries (more: `moreAvailable`).
pub const POLL_MAX_EVENTS: u32 = 1000;

/// An RFC 8935/8936 error: `{"err": ..., "description": ...}` with an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetError {
    pub status: u16,
    pub err: &'static str,
    pub description: String,
}

impl SetError {
    fn invalid(description: impl Into<String>) -> SetError {
        SetError { status: 400, err: "invalid_request", description: description.into() }
    }

    pub fn body(&self) -> Value {
        json!({"err": self.err, "description": self.description})
    }
}

impl PollRequest {
    /// Reads a poll request; an empty body is a plain long poll.
    pub fn from_json(body: &Value) -> std::result::Result<PollRequest, SetError> {
        let obj = match body {
            Value::Null => return Ok(PollRequest::default()),
            Value::Object(o) => o,
            _ => return Err(SetError::invalid("the poll request must be a JSON object")),
        };
        let mut req = PollRequest::default();
        if let Some(v) = obj.get("maxEvents") {
            let n = v.as_u64().ok_or_else(|| SetError::invalid("maxEvents must be a non-negative integer"))?;
            req.max_events = Some(u32::try_from(n).unwrap_or(u32::MAX));
        }
        if let Some(v) = obj.get("returnImmediately") {
            req.return_immediately =
                v.as_bool().ok_or_else(|| SetError::invalid("returnImmediately must be a boolean"))?;
        }
        if let Some(v) = obj.get("ack") {
            let list = v.as_array().ok_or_else(|| SetError::invalid("ack must be an array of jti strings"))?;
            for j in list {
                req.ack
                    .push(j.as_str().ok_or_else(|| SetError::invalid("ack must be an array of jti strings"))?.into());
            }
        }
        if let Some(v) = obj.get("setErrs") {
            let map = v.as_object().ok_or_else(|| SetError::invalid("setErrs must be an object keyed by jti"))?;
            for (jti, e) in map {
                let err = e.get("err").and_then(Value::as_str).unwrap_or("unknown");
                let description = e.get("description").and_then(Value::as_str).unwrap_or_default();
                req.set_errs.push((jti.clone(), truncate(err, 100), truncate(description, 500)));
            }
        }
        Ok(req)
    }
}

/// A poll response (RFC 8936 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollResponse {
    /// `jti` → SET, oldest first.
    pub sets: Vec<(String, String)>,
    pub more_available: bool,
}

impl PollResponse {
    pub fn to_json(&self) -> Value {
        let sets: Map<String, Value> = self.sets.iter().map(|(j, s)| (j.clone(), Value::String(s.clone()))).collect();
        json!({"sets": sets, "moreAvailable": self.more_available})
    }
}

/// How long a long poll may wait, and how often it checks for events written elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollTiming {
    pub max_wait: Duration,
    pub recheck: Duration,
}

impl Default for PollTiming {
    fn default() -> Self {
        PollTiming { max_wait: Duration::from_secs(25), recheck: Duration::from_millis(500) }
    }
}

// --- The services ---------------------------------------------------------------------------

fn stream_not_found(slug: &str, id: &str) -> Error {
    Error::NotFound(format!("tenant {slug} has no event stream {id:?}"))
}

impl Core {
    /// The tenant's current signing key (created with its first stream).
    async fn current_event_key(&self, tenant: &Tenant) -> Result<EventKeyRecord> {
        if let Some(k) = self.store.event_keys(tenant.id).await?.into_iter().find(|k| k.retired_at.is_none()) {
            return Ok(k);
        }
        Err(Error::Storage(format!("tenant {} has no event signing key", tenant.slug)))
    }

    fn new_key_record(&self, tenant: TenantId) -> Result<EventKeyRecord> {
        let key = jws::EcKey::generate(self.ids.as_ref())?;
        Ok(EventKeyRecord {
            kid: key.kid.clone(),
            tenant,
            secret: key.secret(),
            public_jwk: key.public_jwk(),
            created_at: self.clock.now(),
            retired_at: None,
        })
    }

    /// Registers a receiver of the tenant's events. Events are recorded from the moment the
    /// tenant has a stream; the new stream starts with the next change.
    pub async fn create_stream(
        &self,
        actor: &Actor,
        tenant_slug: &str,
        spec: &StreamSpec,
        public_url: &str,
    ) -> Result<IssuedStream> {
        let tenant = self.tenant(tenant_slug).await?;
        let delivery = Delivery::parse(&spec.delivery)
            .ok_or_else(|| Error::Invalid(format!("delivery must be push or poll, not {:?}", spec.delivery)))?;
        let name = spec.name.trim().to_string();
        if name.chars().count() > 100 {
            return Err(Error::Invalid("stream names are at most 100 characters".into()));
        }
        let mode = match &spec.mode {
            Some(m) => {
                EventMode::parse(m).ok_or_else(|| Error::Invalid(format!("mode must be notice or full, not {m:?}")))?
            }
            None => EventMode::Notice,
        };
        let mut types = BTreeSet::new();
        for e in &spec.events {
            let t = EventType::parse(e).ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown event type {e:?}: use create, patch, put, delete, activate, deactivate or their URIs"
                ))
            })?;
            types.insert(t);
        }
        if types.is_empty() {
            types.extend(EventType::ALL);
        }
        let generated = tokens::generate_prefixed(self.ids.as_ref(), POLL_TOKEN_PREFIX)?;
        let (endpoint, authorization, poll_secret_hash, poll_token) = match delivery {
            Delivery::Push => {
                let endpoint = spec
                    .endpoint
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| Error::Invalid("a push stream needs an endpoint URL".into()))?;
                check_endpoint(endpoint, spec.allow_http)?;
                let authorization = spec.authorization.as_deref().map(str::trim).filter(|s| !s.is_empty());
                if authorization.is_some_and(|a| a.chars().any(char::is_control) || a.len() > 4096) {
                    return Err(Error::Invalid(
                        "the authorization value must be one line of at most 4096 bytes".into(),
                    ));
                }
                (Some(endpoint.to_string()), authorization.map(str::to_string), None, None)
            }
            Delivery::Poll => {
                if spec.endpoint.as_deref().is_some_and(|e| !e.trim().is_empty()) || spec.authorization.is_some() {
                    return Err(Error::Invalid(
                        "a poll stream has no endpoint or authorization: the receiver polls Roster".into(),
                    ));
                }
                (None, None, Some(generated.secret_hash.clone()), Some(generated.text.clone()))
            }
        };
        let mut aud: Vec<String> = spec.aud.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
        if aud.is_empty() {
            aud.push(match &endpoint {
                Some(e) => e.clone(),
                None => poll_url(public_url, &tenant.slug, &generated.id),
            });
        }
        let now = self.clock.now();
        let record = StreamRecord {
            id: generated.id.clone(),
            tenant: tenant.id,
            tenant_slug: tenant.slug.clone(),
            name: name.clone(),
            delivery,
            endpoint,
            authorization,
            poll_secret_hash,
            event_types: types.into_iter().collect(),
            mode,
            aud,
            signed: !spec.unsigned,
            status: StreamStatus::Active,
            paused_reason: None,
            flagged: false,
            cursor: 0,
            attempts: 0,
            next_attempt_at: OffsetDateTime::UNIX_EPOCH,
            last_attempt_at: None,
            last_success_at: None,
            last_error: None,
            created_at: now,
            created_by: actor.to_string(),
        };
        let details = format!(
            "{} stream{}; {}; {}{}",
            delivery.as_str(),
            if name.is_empty() { String::new() } else { format!(" {name:?}") },
            mode.as_str(),
            record.endpoint.as_deref().unwrap_or("polled"),
            if record.signed { "" } else { "; UNSIGNED (alg none)" }
        );
        let audit = AuditEntry {
            tenant: Some(tenant.id),
            at: now,
            actor: actor.clone(),
            event: AuditEvent::EventStreamCreated,
            target: format!("event stream {}", record.id),
            details,
        };
        let key = self.new_key_record(tenant.id)?;
        let stored = self.store.create_stream(record, key, audit).await?;
        let latest = self.store.latest_event(tenant.id).await?;
        Ok(IssuedStream { stream: stream_view(&stored, latest, public_url), poll_token })
    }

    async fn tenant_stream(&self, tenant_slug: &str, id: &str) -> Result<(Tenant, StreamRecord)> {
        let tenant = self.tenant(tenant_slug).await?;
        match self.store.stream(id).await? {
            Some(s) if s.tenant == tenant.id => Ok((tenant, s)),
            _ => Err(stream_not_found(tenant_slug, id)),
        }
    }

    pub async fn list_streams(&self, tenant_slug: &str, public_url: &str) -> Result<Vec<StreamView>> {
        let tenant = self.tenant(tenant_slug).await?;
        let latest = self.store.latest_event(tenant.id).await?;
        Ok(self.store.streams(tenant.id).await?.iter().map(|s| stream_view(s, latest, public_url)).collect())
    }

    pub async fn get_stream(&self, tenant_slug: &str, id: &str, public_url: &str) -> Result<StreamView> {
        let (tenant, s) = self.tenant_stream(tenant_slug, id).await?;
        let latest = self.store.latest_event(tenant.id).await?;
        Ok(stream_view(&s, latest, public_url))
    }

    async fn change_stream(
        &self,
        actor: &Actor,
        tenant_slug: &str,
        id: &str,
        change: StreamChange,
        event: AuditEvent,
        details: String,
    ) -> Result<Option<StreamRecord>> {
        let (tenant, _) = self.tenant_stream(tenant_slug, id).await?;
        let audit = AuditEntry {
            tenant: Some(tenant.id),
            at: self.clock.now(),
            actor: actor.clone(),
            event,
            target: format!("event stream {id}"),
            details,
        };
        let changed = self.store.change_stream(tenant.id, id, change, audit).await?;
        self.events.changed();
        Ok(changed)
    }

    /// Pauses a stream: nothing is delivered until it is resumed; events keep accumulating.
    pub async fn pause_stream(
        &self,
        actor: &Actor,
        tenant_slug: &str,
        id: &str,
        public_url: &str,
    ) -> Result<StreamView> {
        let change = StreamChange::Pause { reason: format!("paused by {actor}"), flagged: false };
        self.change_stream(actor, tenant_slug, id, change, AuditEvent::EventStreamPaused, String::new())
            .await?
            .ok_or_else(|| stream_not_found(tenant_slug, id))?;
        self.get_stream(tenant_slug, id, public_url).await
    }

    /// Resumes a stream where it stopped. `skip` moves past the next event meant for it first
    /// (one the receiver keeps rejecting); the delivery log records the skip.
    pub async fn resume_stream(
        &self,
        actor: &Actor,
        tenant_slug: &str,
        id: &str,
        skip: bool,
        public_url: &str,
    ) -> Result<StreamView> {
        let (tenant, stream) = self.tenant_stream(tenant_slug, id).await?;
        let skip_to = if skip {
            let next = self
                .store
                .events(&EventQuery {
                    tenant: tenant.id,
                    after: stream.cursor,
                    upto: None,
                    types: stream.event_types.clone(),
                    unacked_by: (stream.delivery == Delivery::Poll).then(|| stream.id.clone()),
                    limit: 1,
                })
                .await?;
            next.first().map(|e| (e.seq, stream.jti(e.seq)))
        } else {
            None
        };
        let details = match &skip_to {
            Some((seq, _)) => format!("skipped event {seq}"),
            None => String::new(),
        };
        let change = StreamChange::Resume { skip_to, at: self.clock.now() };
        self.change_stream(actor, tenant_slug, id, change, AuditEvent::EventStreamResumed, details)
            .await?
            .ok_or_else(|| stream_not_found(tenant_slug, id))?;
        self.get_stream(tenant_slug, id, public_url).await
    }

    /// Removes a stream and its delivery log; its undelivered events are released.
    pub async fn delete_stream(&self, actor: &Actor, tenant_slug: &str, id: &str) -> Result<()> {
        self.change_stream(actor, tenant_slug, id, StreamChange::Delete, AuditEvent::EventStreamDeleted, String::new())
            .await?
            .ok_or_else(|| stream_not_found(tenant_slug, id))?;
        Ok(())
    }

    /// A stream's delivery log, newest first.
    pub async fn stream_deliveries(
        &self,
        tenant_slug: &str,
        id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>> {
        let (_, stream) = self.tenant_stream(tenant_slug, id).await?;
        self.store.deliveries(&stream.id, before, limit.clamp(1, 1000)).await
    }

    /// The tenant's public keys (RFC 7517 JWK Set) for verifying its SETs.
    pub async fn jwks(&self, tenant_slug: &str) -> Result<Value> {
        let tenant = self.tenant(tenant_slug).await?;
        let keys: Vec<Value> = self.store.event_keys(tenant.id).await?.into_iter().map(|k| k.public_jwk).collect();
        Ok(json!({"keys": keys}))
    }

    /// The SET of `event` for `stream`: signed with the tenant's key unless the stream is
    /// unsecured. `None` when the event is not meant for the stream.
    pub async fn issue_set(
        &self,
        tenant: &Tenant,
        stream: &StreamRecord,
        event: &StoredEvent,
        public_url: &str,
        key: Option<&jws::EcKey>,
    ) -> Result<Option<String>> {
        let base = issuer(public_url, &tenant.slug);
        let data = match (stream.mode, &event.event.data) {
            (EventMode::Full, Some(data)) => {
                let registry = self.registry(tenant).await?;
                let e = &event.event;
                let meta = Meta {
                    created: e.created,
                    last_modified: e.last_modified,
                    version: e.version,
                    location: format!("{base}{}/{}", e.kind.endpoint(), e.resource_id),
                };
                Some(render(&registry, e.kind, &e.resource_id, data, &meta, Derived { relations: None }))
            }
            _ => None,
        };
        let Some(claims) = set_claims(stream, event, &base, data.as_ref()) else {
            return Ok(None);
        };
        if !stream.signed {
            return Ok(Some(jws::unsigned(&claims)));
        }
        let key = match key {
            Some(k) => k.clone(),
            None => self.signing_key(tenant).await?,
        };
        Ok(Some(key.sign(&claims)))
    }

    /// The tenant's current signing key.
    pub async fn signing_key(&self, tenant: &Tenant) -> Result<jws::EcKey> {
        jws::EcKey::from_secret(&self.current_event_key(tenant).await?.secret)
    }

    /// The SETs a push worker holding `stream` should send next, oldest first, and the cursor
    /// to move to if none is meant for the stream.
    pub async fn next_push(&self, stream: &StreamRecord, limit: u32) -> Result<(Vec<StoredEvent>, i64)> {
        let latest = self.store.latest_event(stream.tenant).await?;
        let events = self
            .store
            .events(&EventQuery {
                tenant: stream.tenant,
                after: stream.cursor,
                upto: Some(latest),
                types: stream.event_types.clone(),
                unacked_by: None,
                limit,
            })
            .await?;
        Ok((events, latest.max(stream.cursor)))
    }

    /// Authenticates a poll receiver: the stream's own bearer token.
    async fn poll_stream(
        &self,
        tenant_slug: &str,
        stream_id: &str,
        authorization: Option<&str>,
    ) -> Result<StreamRecord> {
        let header = authorization.map(str::trim).unwrap_or_default();
        let Some((scheme, credentials)) = header.split_once(' ') else {
            return Err(Error::Unauthorized(AuthFailure::Missing));
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::Unauthorized(AuthFailure::Missing));
        }
        let (id, secret) = tokens::parse_prefixed(credentials.trim(), POLL_TOKEN_PREFIX)
            .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        let stream = self.store.stream(id).await?.ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        let verified = stream.poll_secret_hash.as_deref().is_some_and(|h| tokens::verify(secret, h));
        if !verified || stream.id != stream_id || stream.tenant_slug != tenant_slug {
            return Err(Error::Unauthorized(AuthFailure::Invalid));
        }
        Ok(stream)
    }

    /// One poll (RFC 8936): records the acknowledgements and errors, then returns the oldest
    /// SETs not yet acknowledged (unacknowledged ones come again), waiting for new events up
    /// to `timing.max_wait` unless `returnImmediately`.
    pub async fn poll_events(
        &self,
        tenant_slug: &str,
        stream_id: &str,
        authorization: Option<&str>,
        request: &PollRequest,
        public_url: &str,
        timing: PollTiming,
    ) -> Result<std::result::Result<PollResponse, SetError>> {
        let stream = self.poll_stream(tenant_slug, stream_id, authorization).await?;
        if stream.status == StreamStatus::Paused {
            return Ok(Err(SetError {
                status: 403,
                err: "access_denied",
                description: "this event stream is paused by an administrator".into(),
            }));
        }
        let mut acks = Vec::new();
        for jti in &request.ack {
            match stream.seq_of(jti) {
                Some(seq) => acks.push(seq),
                None => return Ok(Err(SetError::invalid(format!("{jti:?} is not a jti of this stream")))),
            }
        }
        let mut errors = Vec::new();
        for (jti, err, description) in &request.set_errs {
            match stream.seq_of(jti) {
                Some(seq) => errors.push((seq, format!("{err}: {description}"))),
                None => return Ok(Err(SetError::invalid(format!("{jti:?} is not a jti of this stream")))),
            }
        }
        let stream = if acks.is_empty() && errors.is_empty() {
            stream
        } else {
            self.store
                .acknowledge(&stream.id, &acks, &errors, self.clock.now())
                .await?
                .ok_or_else(|| stream_not_found(tenant_slug, stream_id))?
        };
        let limit = request.max_events.unwrap_or(POLL_MAX_EVENTS).min(POLL_MAX_EVENTS);
        if limit == 0 {
            return Ok(Ok(PollResponse { sets: Vec::new(), more_available: false }));
        }
        let tenant = self.tenant(tenant_slug).await?;
        let query = EventQuery {
            tenant: tenant.id,
            after: stream.cursor,
            upto: None,
            types: stream.event_types.clone(),
            unacked_by: Some(stream.id.clone()),
            limit: limit + 1,
        };
        let check = || async {
            let found = self.store.events(&query).await?;
            Ok((!found.is_empty()).then_some(found))
        };
        let found = if request.return_immediately {
            check().await?
        } else {
            self.events.wait_for(timing.max_wait, timing.recheck, check).await?
        };
        let mut found = found.unwrap_or_default();
        let more_available = found.len() > limit as usize;
        found.truncate(limit as usize);
        let key = if stream.signed && !found.is_empty() { Some(self.signing_key(&tenant).await?) } else { None };
        let mut sets = Vec::with_capacity(found.len());
        for event in &found {
            if let Some(set) = self.issue_set(&tenant, &stream, event, public_url, key.as_ref()).await? {
                sets.push((stream.jti(event.seq), set));
            }
        }
        Ok(Ok(PollResponse { sets, more_available }))
    }

    /// Deletes events older than `retention` that every stream has delivered, and older
    /// delivery-log rows; returns how many events.
    pub async fn prune_events(&self, retention: time::Duration) -> Result<u64> {
        self.store.prune_events(self.clock.now() - retention).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(types: &[EventType], mode: EventMode) -> StreamRecord {
        StreamRecord {
            id: "0123456789abcdef".into(),
            tenant: 1,
            tenant_slug: "default".into(),
            name: String::new(),
            delivery: Delivery::Push,
            endpoint: Some("https://app.example/events".into()),
            authorization: None,
            poll_secret_hash: None,
            event_types: types.to_vec(),
            mode,
            aud: vec!["https://app.example".into()],
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
            created_at: OffsetDateTime::UNIX_EPOCH,
            created_by: "test".into(),
        }
    }

    fn event(op: EventType, activation: Option<EventType>, kind: ResourceKind) -> StoredEvent {
        StoredEvent {
            seq: 7,
            event: EventEntry {
                tenant: 1,
                at: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_700_000_000),
                txn: "txn-1".into(),
                op,
                activation,
                kind,
                resource_id: "u1".into(),
                external_id: Some("ext-1".into()),
                version: 3,
                created: OffsetDateTime::UNIX_EPOCH,
                last_modified: OffsetDateTime::UNIX_EPOCH,
                attributes: vec!["active".into(), "members".into()],
                data: Some(Map::new()),
                members_added: vec!["m1".into()],
                members_removed: vec![],
                token_id: None,
                idp: None,
            },
        }
    }

    #[test]
    fn event_types_parse_from_names_and_uris() {
        assert_eq!(EventType::parse("create"), Some(EventType::Create));
        assert_eq!(EventType::parse("urn:ietf:params:scim:event:prov:patch:full"), Some(EventType::Patch));
        assert_eq!(EventType::parse("prov:DEACTIVATE"), Some(EventType::Deactivate));
        assert_eq!(EventType::parse("feed:add"), None);
        assert_eq!(EventType::Put.uri(EventMode::Notice), "urn:ietf:params:scim:event:prov:put:notice");
        assert_eq!(EventType::Delete.uri(EventMode::Full), "urn:ietf:params:scim:event:prov:delete");
    }

    #[test]
    fn a_change_that_deactivates_is_one_set_with_both_uris() {
        let s = stream(&EventType::ALL, EventMode::Notice);
        let e = event(EventType::Patch, Some(EventType::Deactivate), ResourceKind::User);
        let claims = set_claims(&s, &e, "https://r.example/scim/v2/default", None).unwrap();
        assert_eq!(claims["jti"], "0123456789abcdef-7");
        assert_eq!(claims["txn"], "txn-1");
        assert_eq!(claims["aud"], "https://app.example");
        assert_eq!(claims["sub_id"], json!({"format": "scim", "uri": "/Users/u1", "id": "u1", "externalId": "ext-1"}));
        let events = claims["events"].as_object().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events["urn:ietf:params:scim:event:prov:patch:notice"]["version"], "W/\"3\"");
        assert_eq!(events["urn:ietf:params:scim:event:prov:deactivate"], json!({}));
        // Users carry no membership; sub_id never goes into an event payload (RFC 9967 §2.1).
        assert!(events["urn:ietf:params:scim:event:prov:patch:notice"].get("membership").is_none());
        assert!(claims.get("sub").is_none());
    }

    #[test]
    fn streams_get_only_the_types_they_asked_for() {
        let s = stream(&[EventType::Deactivate], EventMode::Notice);
        let e = event(EventType::Patch, Some(EventType::Deactivate), ResourceKind::User);
        let claims = set_claims(&s, &e, "iss", None).unwrap();
        assert_eq!(claims["events"].as_object().unwrap().len(), 1);
        let only_create = stream(&[EventType::Create], EventMode::Notice);
        assert!(set_claims(&only_create, &e, "iss", None).is_none());
    }

    #[test]
    fn full_group_events_carry_data_and_membership() {
        let s = stream(&EventType::ALL, EventMode::Full);
        let e = event(EventType::Put, None, ResourceKind::Group);
        let data: Map<String, Value> = json!({"displayName": "Sales"}).as_object().cloned().unwrap();
        let claims = set_claims(&s, &e, "iss", Some(&data)).unwrap();
        let payload = &claims["events"]["urn:ietf:params:scim:event:prov:put:full"];
        assert_eq!(payload["data"]["displayName"], "Sales");
        assert!(payload.get("attributes").is_none(), "exactly one of data and attributes (RFC 9967 §2.4)");
        assert_eq!(payload["membership"], json!({"added": ["m1"], "removed": []}));
    }

    #[test]
    fn push_responses_are_classified_as_rfc8935_says() {
        let resp = |status, body: &str| PushResult::Response { status, body: body.into(), retry_after: None };
        assert_eq!(classify(&resp(202, "")), Verdict::Delivered);
        assert!(matches!(
            classify(&resp(400, r#"{"err":"invalid_audience","description":"wrong aud"}"#)),
            Verdict::Rejected(e) if e.contains("invalid_audience") && e.contains("wrong aud")
        ));
        assert!(matches!(classify(&resp(400, "bad")), Verdict::Retry { .. }));
        assert!(matches!(classify(&resp(503, "")), Verdict::Retry { .. }));
        assert!(matches!(classify(&resp(401, "")), Verdict::Retry { .. }));
        assert!(matches!(classify(&PushResult::Transport("timed out".into())), Verdict::Retry { .. }));
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_honours_retry_after() {
        let p = RetryPolicy { base: Duration::from_secs(1), max: Duration::from_secs(60), max_attempts: 5 };
        assert_eq!(p.delay(1, 1.0, None), Duration::from_secs(1));
        assert_eq!(p.delay(2, 1.0, None), Duration::from_secs(2));
        assert_eq!(p.delay(4, 1.0, None), Duration::from_secs(8));
        assert_eq!(p.delay(40, 1.0, None), Duration::from_secs(60));
        assert_eq!(p.delay(3, 0.0, None), Duration::from_secs(2));
        assert_eq!(p.delay(1, 1.0, Some(Duration::from_secs(30))), Duration::from_secs(30));
        assert_eq!(p.delay(1, 1.0, Some(Duration::from_secs(3600))), Duration::from_secs(60));
    }

    #[test]
    fn poll_requests_parse_and_refuse_bad_shapes() {
        let r = PollRequest::from_json(&json!({
            "maxEvents": 5, "returnImmediately": true, "ack": ["a-1"],
            "setErrs": {"a-2": {"err": "invalid_request", "description": "nope"}}
        }))
        .unwrap();
        assert_eq!(r.max_events, Some(5));
        assert!(r.return_immediately);
        assert_eq!(r.ack, vec!["a-1"]);
        assert_eq!(r.set_errs, vec![("a-2".into(), "invalid_request".into(), "nope".into())]);
        assert_eq!(PollRequest::from_json(&Value::Null).unwrap(), PollRequest::default());
        assert!(PollRequest::from_json(&json!({"maxEvents": -1})).is_err());
        assert!(PollRequest::from_json(&json!({"ack": "a-1"})).is_err());
        assert!(PollRequest::from_json(&json!([])).is_err());
    }

    #[test]
    fn jtis_map_back_to_their_events_on_their_own_stream_only() {
        let s = stream(&EventType::ALL, EventMode::Notice);
        assert_eq!(s.seq_of(&s.jti(42)), Some(42));
        assert_eq!(s.seq_of("ffffffffffffffff-42"), None);
        assert_eq!(s.seq_of("0123456789abcdef-x"), None);
    }

    #[test]
    fn push_endpoints_must_be_https_except_on_loopback() {
        assert!(check_endpoint("https://app.example/events", false).is_ok());
        assert!(check_endpoint("http://127.0.0.1:9000/events", false).is_ok());
        assert!(check_endpoint("http://[::1]:9000/events", false).is_ok());
        assert!(check_endpoint("http://localhost/events", false).is_ok());
        assert!(check_endpoint("http://app.internal/events", false).is_err());
        assert!(check_endpoint("http://app.internal/events", true).is_ok());
        assert!(check_endpoint("ftp://app.example/", true).is_err());
        assert!(check_endpoint("https:///nohost", false).is_err());
    }
}
