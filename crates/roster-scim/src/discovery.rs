//! `/ServiceProviderConfig` (RFC 7643 §5, RFC 9865 §4, RFC 9967 §4): what Roster supports,
//! truthfully.

use serde_json::{Value, json};

use crate::bulk::BulkLimits;
use crate::schema::SERVICE_PROVIDER_CONFIG_SCHEMA;

/// The SET event URIs Roster issues (RFC 9967 §2.4), advertised in `securityEvents`.
pub const SECURITY_EVENT_URIS: [&str; 9] = [
    "urn:ietf:params:scim:event:prov:create:notice",
    "urn:ietf:params:scim:event:prov:create:full",
    "urn:ietf:params:scim:event:prov:patch:notice",
    "urn:ietf:params:scim:event:prov:patch:full",
    "urn:ietf:params:scim:event:prov:put:notice",
    "urn:ietf:params:scim:event:prov:put:full",
    "urn:ietf:params:scim:event:prov:delete",
    "urn:ietf:params:scim:event:prov:activate",
    "urn:ietf:params:scim:event:prov:deactivate",
];

/// The capabilities a deployment advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderConfig {
    pub documentation_uri: Option<String>,
    pub bulk: BulkLimits,
    /// `filter.maxResults`: the largest page served.
    pub max_results: u64,
    /// The page size when the client gives no `count`.
    pub default_page_size: u64,
    /// Whether cursor pagination (RFC 9865) is offered.
    pub cursor_pagination: bool,
    /// How long a cursor stays valid, in seconds (RFC 9865 `cursorTimeout`).
    pub cursor_timeout_secs: u64,
}

impl Default for ServiceProviderConfig {
    fn default() -> Self {
        ServiceProviderConfig {
            documentation_uri: None,
            bulk: BulkLimits::default(),
            max_results: 1000,
            default_page_size: 100,
            cursor_pagination: true,
            cursor_timeout_secs: 3600,
        }
    }
}

impl ServiceProviderConfig {
    /// The document, with `meta.location` under `base_url`.
    pub fn to_json(&self, base_url: &str) -> Value {
        let mut doc = json!({
            "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
            "patch": {"supported": true},
            "bulk": {
                "supported": true,
                "maxOperations": self.bulk.max_operations,
                "maxPayloadSize": self.bulk.max_payload_size,
            },
            "filter": {"supported": true, "maxResults": self.max_results},
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "pagination": {
                "cursor": self.cursor_pagination,
                "index": true,
                "defaultPaginationMethod": "index",
                "defaultPageSize": self.default_page_size,
                "maxPageSize": self.max_results,
            },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication scheme using the OAuth Bearer Token Standard: a Roster SCIM token in the Authorization header.",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": true,
            }],
            // RFC 9967 §4: the event URIs event streams can carry (streams are registered
            // by an administrator); no asynchronous SCIM requests.
            "securityEvents": {
                "asyncRequest": "none",
                "eventUris": SECURITY_EVENT_URIS,
            },
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{base_url}/ServiceProviderConfig"),
            },
        });
        if self.cursor_pagination {
            doc["pagination"]["cursorTimeout"] = json!(self.cursor_timeout_secs);
        }
        if let Some(uri) = &self.documentation_uri {
            doc["documentationUri"] = json!(uri);
        }
        doc
    }
}
