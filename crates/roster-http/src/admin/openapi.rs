//! The OpenAPI document of the admin API, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Roster admin API", description = "Tenants, SCIM tokens, the audit trail and the provisioning log."),
    paths(
        super::auth::sign_in,
        super::auth::sign_out,
        super::me,
        super::list_tenants,
        super::create_tenant,
        super::get_tenant,
        super::list_tokens,
        super::create_token,
        super::enable_token,
        super::disable_token,
        super::renew_token,
        super::remove_token,
        super::tenant_audit,
        super::installation_audit,
        super::provisioning_log,
        super::update_settings,
        super::list_attributes,
        super::define_attribute,
        super::remove_attribute,
        crate::events::list_streams,
        crate::events::create_stream,
        crate::events::get_stream,
        crate::events::delete_stream,
        crate::events::pause_stream,
        crate::events::resume_stream,
        crate::events::stream_deliveries,
    ),
    tags(
        (name = "session", description = "Sign in and out (portal sessions); API keys need neither."),
        (name = "tenants"),
        (name = "tokens", description = "SCIM bearer tokens: at most 2 per tenant by default."),
        (name = "attributes", description = "The tenant's custom User extension."),
        (name = "audit"),
        (name = "provisioning log"),
        (name = "events", description = "Event streams: SCIM change events (RFC 9967 SETs) pushed (RFC 8935) or polled (RFC 8936)."),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// `GET /admin/api/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
