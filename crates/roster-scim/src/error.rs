//! SCIM errors (RFC 7644 §3.12): an HTTP status, an optional `scimType` from Table 9
//! (plus the RFC 9865 cursor types) and a human-readable detail.

use serde_json::{Map, Value, json};

/// The error message schema URN (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// `scimType` values of RFC 7644 Table 9 and RFC 9865 §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    InvalidCursor,
    ExpiredCursor,
    InvalidCount,
}

impl ScimType {
    /// Every `scimType`, in Table 9 order followed by the RFC 9865 ones.
    pub const ALL: [ScimType; 13] = [
        ScimType::InvalidFilter,
        ScimType::TooMany,
        ScimType::Uniqueness,
        ScimType::Mutability,
        ScimType::InvalidSyntax,
        ScimType::InvalidPath,
        ScimType::NoTarget,
        ScimType::InvalidValue,
        ScimType::InvalidVers,
        ScimType::Sensitive,
        ScimType::InvalidCursor,
        ScimType::ExpiredCursor,
        ScimType::InvalidCount,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
            ScimType::ExpiredCursor => "expiredCursor",
            ScimType::InvalidCount => "invalidCount",
        }
    }

    /// The HTTP status that goes with this type. Table 9 lists `uniqueness` under 400, but
    /// §3.3 mandates 409 for a duplicate create and Entra and Okta expect 409 everywhere;
    /// `sensitive` is 403 (§7.5.2, errata 6893).
    pub fn status(self) -> u16 {
        match self {
            ScimType::Uniqueness => 409,
            ScimType::Sensitive => 403,
            _ => 400,
        }
    }
}

impl std::fmt::Display for ScimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM error: what the client gets back as an `urn:...:Error` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}{}: {detail}", scim_type.map(|t| format!(" {t}")).unwrap_or_default())]
pub struct ScimError {
    /// The HTTP status code.
    pub status: u16,
    /// The `scimType`, for 400/403/409 errors that have one.
    pub scim_type: Option<ScimType>,
    /// A human-readable explanation that names the attribute, path or value at fault.
    pub detail: String,
}

impl ScimError {
    /// An error with a `scimType`; the status follows from the type.
    pub fn new(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError { status: scim_type.status(), scim_type: Some(scim_type), detail: detail.into() }
    }

    /// An error with a plain status and no `scimType`.
    pub fn with_status(status: u16, detail: impl Into<String>) -> Self {
        ScimError { status, scim_type: None, detail: detail.into() }
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidFilter, detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidSyntax, detail)
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidValue, detail)
    }
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidPath, detail)
    }
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(ScimType::NoTarget, detail)
    }
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(ScimType::Mutability, detail)
    }
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(ScimType::Uniqueness, detail)
    }
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(ScimType::TooMany, detail)
    }
    /// 404: the resource or endpoint does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::with_status(404, detail)
    }
    /// 412: an `If-Match` or bulk `version` did not match.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::with_status(412, detail)
    }
    /// 413: a payload or a Bulk request over its advertised limit.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::with_status(413, detail)
    }
    /// 501: an operation Roster does not implement (`/Me`).
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::with_status(501, detail)
    }
    /// 409 without a `scimType`: a conflict that is not a uniqueness clash (bulkId cycles).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::with_status(409, detail)
    }

    /// The RFC 7644 §3.12 body; `status` is a JSON string, as clients expect.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("schemas".into(), json!([ERROR_SCHEMA]));
        body.insert("status".into(), Value::String(self.status.to_string()));
        if let Some(t) = self.scim_type {
            body.insert("scimType".into(), Value::String(t.as_str().into()));
        }
        body.insert("detail".into(), Value::String(self.detail.clone()));
        Value::Object(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scim_type_has_a_wire_name_and_a_client_error_status() {
        for t in ScimType::ALL {
            assert!(!t.as_str().is_empty());
            assert!((400..500).contains(&t.status()), "{t} maps to {}", t.status());
        }
        assert_eq!(ScimType::Uniqueness.status(), 409);
        assert_eq!(ScimType::Sensitive.status(), 403);
        assert_eq!(ScimType::InvalidFilter.status(), 400);
    }

    #[test]
    fn error_body_carries_status_as_a_string() {
        let body = ScimError::invalid_filter("bad at byte 3").to_json();
        assert_eq!(body["status"], "400");
        assert_eq!(body["scimType"], "invalidFilter");
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        assert_eq!(body["detail"], "bad at byte 3");
        let body = ScimError::not_found("no such user").to_json();
        assert_eq!(body["status"], "404");
        assert!(body.get("scimType").is_none());
    }
}
