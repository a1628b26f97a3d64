//! The audit trail (administrative events) and the provisioning log (SCIM requests).
//! Both are rows in the database, written in the transaction of the change they record.

use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;

use crate::model::TenantId;

/// An administrative event, with the name people see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuditEvent {
    ScimTokenCreated,
    ScimTokenEnabled,
    ScimTokenDisabled,
    ScimTokenRenewed,
    ScimTokenDeleted,
    AdminSignedIn,
    AdminSignInFailed,
    AdminSignedOut,
    AdminCreated,
    AdminPasswordChanged,
    ApiKeyCreated,
    ApiKeyDeleted,
    AttributeDefined,
    AttributeRemoved,
    TenantCreated,
    TenantSettingsChanged,
    EventStreamCreated,
    EventStreamPaused,
    EventStreamResumed,
    EventStreamDeleted,
}

impl AuditEvent {
    pub const ALL: [AuditEvent; 20] = [
        AuditEvent::ScimTokenCreated,
        AuditEvent::ScimTokenEnabled,
        AuditEvent::ScimTokenDisabled,
        AuditEvent::ScimTokenRenewed,
        AuditEvent::ScimTokenDeleted,
        AuditEvent::AdminSignedIn,
        AuditEvent::AdminSignInFailed,
        AuditEvent::AdminSignedOut,
        AuditEvent::AdminCreated,
        AuditEvent::AdminPasswordChanged,
        AuditEvent::ApiKeyCreated,
        AuditEvent::ApiKeyDeleted,
        AuditEvent::AttributeDefined,
        AuditEvent::AttributeRemoved,
        AuditEvent::TenantCreated,
        AuditEvent::TenantSettingsChanged,
        AuditEvent::EventStreamCreated,
        AuditEvent::EventStreamPaused,
        AuditEvent::EventStreamResumed,
        AuditEvent::EventStreamDeleted,
    ];

    /// The stable code stored and used in filters.
    pub fn code(self) -> &'static str {
        match self {
            AuditEvent::ScimTokenCreated => "scim_token.created",
            AuditEvent::ScimTokenEnabled => "scim_token.enabled",
            AuditEvent::ScimTokenDisabled => "scim_token.disabled",
            AuditEvent::ScimTokenRenewed => "scim_token.renewed",
            AuditEvent::ScimTokenDeleted => "scim_token.deleted",
            AuditEvent::AdminSignedIn => "admin.signed_in",
            AuditEvent::AdminSignInFailed => "admin.sign_in_failed",
            AuditEvent::AdminSignedOut => "admin.signed_out",
            AuditEvent::AdminCreated => "admin.created",
            AuditEvent::AdminPasswordChanged => "admin.password_changed",
            AuditEvent::ApiKeyCreated => "api_key.created",
            AuditEvent::ApiKeyDeleted => "api_key.deleted",
            AuditEvent::AttributeDefined => "attribute.defined",
            AuditEvent::AttributeRemoved => "attribute.removed",
            AuditEvent::TenantCreated => "tenant.created",
            AuditEvent::TenantSettingsChanged => "tenant.settings_changed",
            AuditEvent::EventStreamCreated => "event_stream.created",
            AuditEvent::EventStreamPaused => "event_stream.paused",
            AuditEvent::EventStreamResumed => "event_stream.resumed",
            AuditEvent::EventStreamDeleted => "event_stream.deleted",
        }
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            AuditEvent::ScimTokenCreated => "SCIM Token Created",
            AuditEvent::ScimTokenEnabled => "SCIM Token Enabled",
            AuditEvent::ScimTokenDisabled => "SCIM Token Disabled",
            AuditEvent::ScimTokenRenewed => "SCIM Token Renewed",
            AuditEvent::ScimTokenDeleted => "SCIM Token Deleted",
            AuditEvent::AdminSignedIn => "Admin Signed In",
            AuditEvent::AdminSignInFailed => "Admin Sign-in Failed",
            AuditEvent::AdminSignedOut => "Admin Signed Out",
            AuditEvent::AdminCreated => "Admin Account Created",
            AuditEvent::AdminPasswordChanged => "Admin Password Changed",
            AuditEvent::ApiKeyCreated => "API Key Created",
            AuditEvent::ApiKeyDeleted => "API Key Deleted",
            AuditEvent::AttributeDefined => "Custom Attribute Defined",
            AuditEvent::AttributeRemoved => "Custom Attribute Removed",
            AuditEvent::TenantCreated => "Tenant Created",
            AuditEvent::TenantSettingsChanged => "Tenant Settings Changed",
            AuditEvent::EventStreamCreated => "Event Stream Created",
            AuditEvent::EventStreamPaused => "Event Stream Paused",
            AuditEvent::EventStreamResumed => "Event Stream Resumed",
            AuditEvent::EventStreamDeleted => "Event Stream Deleted",
        }
    }

    /// Parses a code or a label, case-insensitively.
    pub fn parse(s: &str) -> Option<AuditEvent> {
        let s = s.trim();
        AuditEvent::ALL.into_iter().find(|e| e.code().eq_ignore_ascii_case(s) || e.label().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ActorKind {
    /// A signed-in administrator (portal or admin API with a session).
    Admin,
    /// An admin API key.
    ApiKey,
    /// The `roster` command line, run on the server.
    Cli,
    /// Roster itself (first start, pruning).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Admin => "admin",
            ActorKind::ApiKey => "api_key",
            ActorKind::Cli => "cli",
            ActorKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<ActorKind> {
        [ActorKind::Admin, ActorKind::ApiKey, ActorKind::Cli, ActorKind::System].into_iter().find(|k| k.as_str() == s)
    }
}

/// An actor: its kind and its name (username, key id, OS user).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    pub kind: ActorKind,
    pub name: String,
}

impl Actor {
    pub fn admin(username: &str) -> Actor {
        Actor { kind: ActorKind::Admin, name: username.to_string() }
    }

    pub fn api_key(id: &str) -> Actor {
        Actor { kind: ActorKind::ApiKey, name: id.to_string() }
    }

    /// The command line, named after the OS user running it.
    pub fn cli() -> Actor {
        let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
        Actor { kind: ActorKind::Cli, name: user }
    }

    pub fn system() -> Actor {
        Actor { kind: ActorKind::System, name: "roster".into() }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ActorKind::Admin => write!(f, "admin {}", self.name),
            ActorKind::ApiKey => write!(f, "API key {}", self.name),
            ActorKind::Cli => write!(f, "CLI ({})", self.name),
            ActorKind::System => f.write_str("Roster"),
        }
    }
}

/// An audit row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub tenant: Option<TenantId>,
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub event: AuditEvent,
    /// What the event is about: `token 3f1c…`, `admin alice`.
    pub target: String,
    /// The DETAILS text: names the IdP vendor (`IdP: Okta`) and what changed.
    pub details: String,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    pub id: i64,
    /// The tenant's slug, or `None` for installation-wide events.
    pub tenant: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: Actor,
    /// The event code, e.g. `scim_token.created`.
    #[serde(serialize_with = "serialize_event_code")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub event: AuditEvent,
    /// The event as people read it, e.g. "SCIM Token Created".
    pub event_name: &'static str,
    pub target: String,
    pub details: String,
}

fn serialize_event_code<S: serde::Serializer>(event: &AuditEvent, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(event.code())
}

/// Which audit rows to read, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// `Some(Some(t))`: one tenant; `Some(None)`: installation-wide events; `None`: all.
    pub tenant: Option<Option<TenantId>>,
    pub event: Option<AuditEvent>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// Rows with an id below this one (the next page).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// A provisioning-log row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningEntry {
    pub tenant: TenantId,
    pub at: OffsetDateTime,
    pub request_id: String,
    pub token_id: Option<String>,
    pub idp: Option<String>,
    pub method: String,
    pub path: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// One line: "PATCH group Sales: +3 members, −1 member".
    pub summary: String,
    /// The compatibility rules and policies applied, `; `-separated.
    pub notes: String,
    pub status: u16,
    pub scim_type: Option<String>,
    pub latency_us: i64,
}

/// A stored provisioning-log row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvisioningRecord {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub request_id: String,
    pub token_id: Option<String>,
    pub idp: Option<String>,
    pub method: String,
    pub path: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub summary: String,
    pub notes: String,
    pub status: u16,
    pub scim_type: Option<String>,
    pub latency_us: i64,
}

/// Which provisioning-log rows to read, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvisioningQuery {
    pub tenant: TenantId,
    pub token_id: Option<String>,
    /// 2, 4 or 5: the status class.
    pub status_class: Option<u16>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_from_codes_and_labels() {
        for e in AuditEvent::ALL {
            assert_eq!(AuditEvent::parse(e.code()), Some(e));
            assert_eq!(AuditEvent::parse(&e.label().to_uppercase()), Some(e));
        }
        assert_eq!(AuditEvent::parse("nope"), None);
        assert_eq!(AuditEvent::ScimTokenDeleted.label(), "SCIM Token Deleted");
    }
}
