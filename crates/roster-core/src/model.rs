//! Domain records shared by the services and the storage layer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use roster_scim::{Policy, ResourceKind, UnknownAttributes, UserNameChanges};

/// The database id of a tenant. Every stored row belongs to one.
pub type TenantId = i64;

/// The identity providers Roster knows by name (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Idp {
    Entra,
    Okta,
    OneLogin,
    PingOne,
    JumpCloud,
    Google,
    Other,
}

impl Idp {
    pub const ALL: [Idp; 7] =
        [Idp::Entra, Idp::Okta, Idp::OneLogin, Idp::PingOne, Idp::JumpCloud, Idp::Google, Idp::Other];

    /// The CLI/API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Idp::Entra => "entra",
            Idp::Okta => "okta",
            Idp::OneLogin => "onelogin",
            Idp::PingOne => "pingone",
            Idp::JumpCloud => "jumpcloud",
            Idp::Google => "google",
            Idp::Other => "other",
        }
    }

    /// The vendor name shown to people (audit DETAILS, portal).
    pub fn display_name(self) -> &'static str {
        match self {
            Idp::Entra => "Microsoft Entra ID",
            Idp::Okta => "Okta",
            Idp::OneLogin => "OneLogin",
            Idp::PingOne => "PingOne",
            Idp::JumpCloud => "JumpCloud",
            Idp::Google => "Google Workspace",
            Idp::Other => "Other",
        }
    }

    /// Parses an IdP name; accepts the CLI spelling and a few common aliases.
    pub fn parse(s: &str) -> Option<Idp> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "azure" | "azuread" | "aad" | "entraid" | "microsoft" => Some(Idp::Entra),
            "ping" | "pingfederate" => Some(Idp::PingOne),
            "googleworkspace" | "gsuite" => Some(Idp::Google),
            _ => Idp::ALL.into_iter().find(|i| i.as_str() == s),
        }
    }
}

impl std::fmt::Display for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with member ids that name no resource (A7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum UnknownMembers {
    /// Skip them, apply the rest, and report them (the default: Okta loses a whole push on a 400).
    #[default]
    Skip,
    /// Reject the request with 400 `invalidValue` naming them.
    Reject,
}

/// The response to a successful group PATCH (F-21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum GroupPatchResponse {
    /// 200 with the group (what the Microsoft validator expects).
    #[default]
    Resource,
    /// 204 No Content (cheap for very large groups; Entra's documented preference).
    NoContent,
}

/// Per-tenant settings, stored as JSON so new settings need no migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantSettings {
    /// The `<vendor>` segment of the custom extension URN.
    pub vendor: String,
    /// `lenient` (ignore and note) or `strict` (400) for unknown attributes and schemas.
    pub unknown_attributes: StrictOrLenient,
    /// Whether a provisioned user's userName may change.
    pub username_changes: RejectOrAllow,
    pub unknown_members: UnknownMembers,
    /// Whether groups may contain groups (Entra does not send nested groups).
    pub nested_groups: bool,
    pub group_patch_response: GroupPatchResponse,
    /// The most SCIM tokens that may exist at once.
    pub max_tokens: u32,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            vendor: "roster".into(),
            unknown_attributes: StrictOrLenient::Lenient,
            username_changes: RejectOrAllow::Reject,
            unknown_members: UnknownMembers::Skip,
            nested_groups: false,
            group_patch_response: GroupPatchResponse::Resource,
            max_tokens: 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StrictOrLenient {
    #[default]
    Lenient,
    Strict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RejectOrAllow {
    #[default]
    Reject,
    Allow,
}

impl TenantSettings {
    /// The protocol-core policy these settings imply.
    pub fn policy(&self) -> Policy {
        Policy {
            unknown_attributes: match self.unknown_attributes {
                StrictOrLenient::Lenient => UnknownAttributes::Ignore,
                StrictOrLenient::Strict => UnknownAttributes::Reject,
            },
            username_changes: match self.username_changes {
                RejectOrAllow::Reject => UserNameChanges::Reject,
                RejectOrAllow::Allow => UserNameChanges::Allow,
            },
        }
    }
}

/// A tenant: its own users, groups, tokens and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub settings: TenantSettings,
    /// Bumped whenever the custom schema changes, so cached registries refresh.
    pub schema_version: i64,
    pub created_at: OffsetDateTime,
}

/// Whether a token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenStatus {
    Active,
    Inactive,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Inactive => "inactive",
        }
    }

    pub fn parse(s: &str) -> Option<TokenStatus> {
        match s {
            "active" => Some(TokenStatus::Active),
            "inactive" => Some(TokenStatus::Inactive),
            _ => None,
        }
    }
}

/// A stored SCIM token: never the secret, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The public id, part of the token text and shown in lists.
    pub id: String,
    pub tenant_id: TenantId,
    pub idp: Idp,
    pub name: String,
    pub secret_hash: Vec<u8>,
    pub status: TokenStatus,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A stored user or group.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    /// Storage's own key; creation order.
    pub pk: i64,
    pub kind: ResourceKind,
    /// The SCIM id.
    pub id: String,
    /// Canonical attribute data (see `roster_scim::resource`).
    pub data: Map<String, Value>,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    pub version: i64,
}

/// A resource a group relation points at: for `Group.members` and `User.groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub id: String,
    pub kind: ResourceKind,
    pub display: String,
}
