//! Versioning (RFC 7644 §3.14): an ETag on every resource response equal to `meta.version`,
//! `If-None-Match` → 304, and `If-Match` → 412 when stale (nothing changes then).

use roster_testkit::body::{self, USER};
use roster_testkit::{Resp, ScimClient, each_backend};
use serde_json::{Value, json};

async fn send(
    scim: &ScimClient,
    method: reqwest::Method,
    path: &str,
    header: (&str, &str),
    body: Option<&Value>,
) -> Resp {
    let mut rb = scim.request(method, path).header(header.0, header.1);
    if let Some(b) = body {
        rb = rb.header("Content-Type", "application/scim+json").body(b.to_string());
    }
    ScimClient::send(rb).await
}

#[track_caller]
fn assert_etag_matches_version(r: &Resp) {
    let etag = r.header("etag").expect("ETag header");
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(r.body["meta"]["version"].as_str(), Some(etag), "{}", r.text);
}

#[tokio::test]
async fn every_resource_response_has_an_etag_equal_to_meta_version_that_moves_on_change() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = scim.post("/Users", &body::user("e@x.io")).await;
        assert_etag_matches_version(&created);
        let id = created.id();
        let path = format!("/Users/{id}");
        let got = scim.get(&path).await;
        assert_etag_matches_version(&got);
        let put = scim.put(&path, &json!({"schemas": [USER], "userName": "e@x.io", "title": "A"})).await;
        assert_etag_matches_version(&put);
        let patched = scim.patch_ops(&path, json!([{"op": "replace", "path": "title", "value": "B"}])).await;
        assert_etag_matches_version(&patched);
        let versions: Vec<&str> = [&created, &put, &patched].iter().map(|r| r.header("etag").unwrap()).collect();
        assert_eq!(versions, vec!["W/\"1\"", "W/\"2\"", "W/\"3\""]);
        let listed = scim.get("/Users").await;
        assert_eq!(listed.body["Resources"][0]["meta"]["version"], "W/\"3\"");

        let gid = scim.create_group("G", &[]).await;
        let group = scim.get(&format!("/Groups/{gid}")).await;
        assert_etag_matches_version(&group);
        // A membership change is a change of the group.
        let added = scim
            .patch_ops(&format!("/Groups/{gid}"), json!([{"op": "add", "path": "members", "value": [{"value": id}]}]))
            .await;
        assert_etag_matches_version(&added);
        assert_eq!(added.header("etag"), Some("W/\"2\""));
    })
    .await;
}

#[tokio::test]
async fn if_none_match_with_the_current_version_is_304_without_a_body() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = scim.post("/Users", &body::user("c@x.io")).await;
        let path = format!("/Users/{}", created.id());
        let etag = created.header("etag").unwrap().to_string();
        let r = send(scim, reqwest::Method::GET, &path, ("If-None-Match", &etag), None).await;
        assert_eq!(r.status, 304, "{}", r.text);
        assert!(r.text.is_empty());
        assert_eq!(r.header("etag"), Some(etag.as_str()));
        // Without the W/ prefix too (A20.4).
        let r = send(scim, reqwest::Method::GET, &path, ("If-None-Match", "\"1\""), None).await;
        assert_eq!(r.status, 304);
        let r = send(scim, reqwest::Method::GET, &path, ("If-None-Match", "W/\"0\""), None).await;
        r.expect(200);
        assert_eq!(r.body["id"], created.body["id"]);
        let r = send(scim, reqwest::Method::GET, &path, ("If-None-Match", "*"), None).await;
        assert_eq!(r.status, 304);
        // An unknown resource is still 404.
        let r = send(scim, reqwest::Method::GET, "/Users/nope", ("If-None-Match", "*"), None).await;
        r.expect_error(404, None);
    })
    .await;
}

#[tokio::test]
async fn stale_if_match_is_412_on_put_patch_and_delete_and_changes_nothing() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = scim.post("/Users", &body::user("m@x.io")).await;
        let id = created.id();
        let path = format!("/Users/{id}");
        scim.patch_ops(&path, json!([{"op": "replace", "path": "title", "value": "v2"}])).await.expect(200);
        let stale = ("If-Match", "W/\"1\"");
        let put_body = json!({"schemas": [USER], "userName": "m@x.io", "title": "lost"});
        let patch_body =
            json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "lost"}]});
        send(scim, reqwest::Method::PUT, &path, stale, Some(&put_body)).await.expect_error(412, None);
        send(scim, reqwest::Method::PATCH, &path, stale, Some(&patch_body)).await.expect_error(412, None);
        send(scim, reqwest::Method::DELETE, &path, stale, None).await.expect_error(412, None);
        send(scim, reqwest::Method::DELETE, &path, ("If-Match", "W/\"stale\""), None).await.expect_error(412, None);
        let got = scim.get(&path).await;
        got.expect(200);
        assert_eq!(got.body["title"], "v2");
        assert_eq!(got.header("etag"), Some("W/\"2\""));
    })
    .await;
}

#[tokio::test]
async fn matching_if_match_lets_the_write_through() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = scim.post("/Users", &body::user("ok@x.io")).await;
        let path = format!("/Users/{}", created.id());
        let r = send(
            scim,
            reqwest::Method::PATCH,
            &path,
            ("If-Match", "W/\"1\""),
            Some(
                &json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "t"}]}),
            ),
        )
        .await;
        r.expect(200);
        assert_eq!(r.header("etag"), Some("W/\"2\""));
        // The bare tag (SCIM clients copy meta.version either way).
        let r = send(
            scim,
            reqwest::Method::PUT,
            &path,
            ("If-Match", "\"2\""),
            Some(&json!({"schemas": [USER], "userName": "ok@x.io", "title": "u"})),
        )
        .await;
        r.expect(200);
        assert_eq!(r.header("etag"), Some("W/\"3\""));
        let r = send(scim, reqwest::Method::DELETE, &path, ("If-Match", "*"), None).await;
        r.expect(204);
        // If-Match on a resource that is gone is 404, not 412.
        let r = send(scim, reqwest::Method::DELETE, &path, ("If-Match", "*"), None).await;
        r.expect_error(404, None);
    })
    .await;
}
