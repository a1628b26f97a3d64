//! The portal's static files, embedded in the binary: htmx 2.0.11 (vendored from the npm
//! package `htmx.org`, 0BSD, unmodified `dist/htmx.min.js`), the portal's stylesheet and its
//! small script (Copy buttons). Nothing is loaded from anywhere else.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const HTMX: &[u8] = include_bytes!("../../assets/htmx.min.js");
const CSS: &[u8] = include_bytes!("../../assets/portal.css");
const JS: &[u8] = include_bytes!("../../assets/portal.js");

/// A short hash of every asset, appended as `?v=` so a new release is fetched at once while
/// browsers may keep a file for a year.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    // FNV-1a: stable across builds and platforms, which a cache key needs.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in HTMX.iter().chain(CSS).chain(JS) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:012x}", h >> 16)
});

pub fn version() -> &'static str {
    VERSION.as_str()
}

/// `GET /admin/assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "portal.css" => (CSS, "text/css; charset=utf-8"),
        "portal.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    response
}
