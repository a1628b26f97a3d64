//! The one domain error. The HTTP edge maps it to SCIM error bodies (or admin JSON);
//! the CLI prints it.

use roster_scim::{ResourceKind, ScimError};

/// Why a SCIM request was not authenticated. The detail shown to clients stays vague on
/// purpose: it must not help someone guessing tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthFailure {
    /// No `Authorization` header, or not a Bearer one.
    Missing,
    /// Not a Roster token, or no token with that id, or the wrong secret.
    Invalid,
    /// A valid token of another tenant.
    WrongTenant,
    /// The token is set inactive.
    Disabled,
    /// The token is past its expiry.
    Expired,
}

impl AuthFailure {
    /// The label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Invalid => "invalid",
            AuthFailure::WrongTenant => "wrong_tenant",
            AuthFailure::Disabled => "disabled",
            AuthFailure::Expired => "expired",
        }
    }

    /// What the client is told. A disabled or expired token is the caller's own, so it
    /// may say so (the IdP admin needs to know); the rest say nothing specific.
    pub fn detail(self) -> &'static str {
        match self {
            AuthFailure::Missing => "Authorization required: send the SCIM token as 'Authorization: Bearer <token>'",
            AuthFailure::Invalid | AuthFailure::WrongTenant => "The bearer token is not valid for this SCIM endpoint",
            AuthFailure::Disabled => "The bearer token is disabled; an administrator can set it active again",
            AuthFailure::Expired => "The bearer token has expired; an administrator can renew it",
        }
    }
}

/// Everything a domain operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A protocol error to return to the SCIM client as it is.
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// A uniqueness clash found by storage (userName or group displayName).
    #[error("{} {value:?} is already in use", unique_attribute(*kind))]
    Duplicate { kind: ResourceKind, value: String },
    /// Authentication failed.
    #[error("unauthorized: {}", .0.as_str())]
    Unauthorized(AuthFailure),
    /// Bad input to an administrative operation.
    #[error("{0}")]
    Invalid(String),
    /// An administrative object that does not exist (tenant, token, attribute).
    #[error("{0}")]
    NotFound(String),
    /// An administrative operation that conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// Storage failed; the cause is logged, the client sees a generic 500.
    #[error("storage error: {0}")]
    Storage(String),
}

fn unique_attribute(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    }
}

impl Error {
    /// The SCIM error body for this error, as the SCIM endpoints return it.
    pub fn to_scim(&self) -> ScimError {
        match self {
            Error::Scim(e) => e.clone(),
            Error::Duplicate { kind, value } => {
                ScimError::uniqueness(format!("{} {value:?} is already in use", unique_attribute(*kind)))
            }
            Error::Unauthorized(reason) => ScimError::with_status(401, reason.detail()),
            Error::Invalid(msg) => ScimError::invalid_value(msg.clone()),
            Error::NotFound(msg) => ScimError::not_found(msg.clone()),
            Error::Conflict(msg) => ScimError::conflict(msg.clone()),
            Error::Storage(_) => ScimError::with_status(500, "Internal error; the server log has the details"),
        }
    }

    /// Wraps any storage-layer error.
    pub fn storage(e: impl std::fmt::Display) -> Error {
        Error::Storage(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
