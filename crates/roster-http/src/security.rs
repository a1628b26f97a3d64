//! Browser-facing security headers. Every response says `X-Content-Type-Options: nosniff`;
//! responses under `/admin` (the portal and its JSON API) also get a strict Content Security
//! Policy that forbids framing (clickjacking), `X-Frame-Options` for older browsers, a
//! referrer policy that never leaks portal URLs, and `Cache-Control: no-store` (a page may
//! show a token secret once; it must not be kept in a shared cache or the back button).
//! With an `https://` public URL the portal also asks for HSTS.
//!
//! A header the handler set itself is left alone, so a page that needs a different policy
//! can say so.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};

use crate::AppState;

/// The portal's policy: everything from Roster itself (htmx and the CSS are vendored), no
/// plugins, no `<base>` tricks, forms only back to Roster, and no framing by anyone.
pub const PORTAL_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Middleware: adds the headers above.
pub async fn headers(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let admin = req.uri().path() == "/admin" || req.uri().path().starts_with("/admin/");
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.entry(X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    if admin {
        h.entry(CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(PORTAL_CSP));
        h.entry(X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
        h.entry(REFERRER_POLICY).or_insert(HeaderValue::from_static("no-referrer"));
        h.entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
        h.entry("cross-origin-opener-policy").or_insert(HeaderValue::from_static("same-origin"));
        if app.config.public_url.starts_with("https://") {
            h.entry(STRICT_TRANSPORT_SECURITY).or_insert(HeaderValue::from_static("max-age=31536000"));
        }
    }
    response
}
