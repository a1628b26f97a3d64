//! Error responses (RFC 7644 §3.12): a SCIM Error body with a string `status` and
//! `application/scim+json` for every failure — bad JSON, oversize bodies, unknown endpoints,
//! wrong methods — and nothing changed by a refused request.

use roster_testkit::body::{self, USER};
use roster_testkit::{Resp, ScimClient, each_backend};
use serde_json::json;

async fn raw_body(scim: &ScimClient, method: reqwest::Method, path: &str, body: &str) -> Resp {
    ScimClient::send(scim.request(method, path).header("Content-Type", "application/scim+json").body(body.to_string()))
        .await
}

#[tokio::test]
async fn bad_json_is_400_invalid_syntax_on_every_write() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("j@x.io", json!({})).await;
        let path = format!("/Users/{id}");
        for (method, target) in [
            (reqwest::Method::POST, "/Users"),
            (reqwest::Method::POST, "/Groups"),
            (reqwest::Method::PUT, path.as_str()),
            (reqwest::Method::PATCH, path.as_str()),
            (reqwest::Method::POST, "/Users/.search"),
            (reqwest::Method::POST, "/.search"),
        ] {
            for bad in ["{\"userName\": ", "not json", "", "   ", "{\"a\":1}{"] {
                let r = raw_body(scim, method.clone(), target, bad).await;
                assert_eq!(r.status, 400, "{method} {target} {bad:?}: {}", r.text);
                r.expect_error(400, Some("invalidSyntax"));
            }
        }
        // A body that is JSON but not an object.
        scim.post("/Users", &json!(["userName"])).await.expect_error(400, Some("invalidSyntax"));
        scim.patch(&path, &json!("Operations")).await.expect_error(400, Some("invalidSyntax"));
        let got = scim.get(&path).await;
        assert_eq!(got.header("etag"), Some("W/\"1\""));
        assert_eq!(scim.get("/Users").await.body["totalResults"], 1);
    })
    .await;
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413_with_a_scim_body() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("big@x.io", json!({})).await;
        let mut big = body::user("bigger@x.io");
        big["nickName"] = json!("x".repeat(1024 * 1024));
        for (method, target) in [
            (reqwest::Method::POST, "/Users".to_string()),
            (reqwest::Method::PUT, format!("/Users/{id}")),
            (reqwest::Method::PATCH, format!("/Users/{id}")),
            (reqwest::Method::POST, "/Users/.search".to_string()),
        ] {
            let r = raw_body(scim, method.clone(), &target, &big.to_string()).await;
            assert_eq!(r.status, 413, "{method} {target}: {}", r.text);
            r.expect_error(413, None);
        }
        // Just under the limit is fine.
        let mut fits = body::user("fits@x.io");
        fits["roles"] =
            json!((0..1000).map(|i| json!({"value": format!("{i:04}{}", "r".repeat(1000))})).collect::<Vec<_>>());
        let text = fits.to_string();
        assert!(text.len() > 1000 * 1000 && text.len() < 1024 * 1024);
        let r = raw_body(scim, reqwest::Method::POST, "/Users", &text).await;
        r.expect(201);
        assert_eq!(r.body["roles"].as_array().unwrap().len(), 1000);
        assert_eq!(scim.get("/Users").await.body["totalResults"], 2);
        assert_eq!(scim.get(&format!("/Users/{id}")).await.header("etag"), Some("W/\"1\""));
    })
    .await;
}

#[tokio::test]
async fn long_attribute_values_are_stored_and_found_on_every_backend() {
    each_backend(|app| async move {
        let scim = &app.scim;
        // A certificate chain in base64 runs to several kilobytes of incompressible text.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut random_text = |n: usize| -> String {
            (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % 64) as usize] as char
                })
                .collect()
        };
        let cert = format!("MIIF{}", random_text(8 * 1024));
        let note = format!("nnn{}", random_text(6 * 1024)).replace('+', "-");
        let r = scim
            .post(
                "/Users",
                &json!({"schemas": [USER], "userName": "long@x.io", "nickName": note,
                        "x509Certificates": [{"value": cert}]}),
            )
            .await;
        r.expect(201);
        let id = r.id();
        let got = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(got.body["nickName"].as_str().unwrap().len(), note.len());
        assert_eq!(got.body["x509Certificates"][0]["value"], cert.as_str());
        let found = crate::support::filter(scim, "/Users", &format!("nickName eq \"{note}\"")).await;
        assert_eq!(found.body["totalResults"], 1, "{}", found.text);
        let found = crate::support::filter(scim, "/Users", "nickName sw \"nnn\"").await;
        assert_eq!(found.body["totalResults"], 1, "{}", found.text);
    })
    .await;
}

#[tokio::test]
async fn unknown_endpoints_are_404_with_a_scim_body() {
    each_backend(|app| async move {
        let scim = &app.scim;
        for path in ["/Nope", "/Users/a/b", "/Groups/a/b/c", "/users-and-more/x"] {
            let r = scim.get(path).await;
            assert_eq!(r.status, 404, "{path}: {}", r.text);
            r.expect_error(404, None);
            assert!(!r.body["detail"].as_str().unwrap_or_default().is_empty());
        }
        scim.post("/Nope", &json!({})).await.expect_error(404, None);
        scim.delete("/Widgets/1").await.expect_error(404, None);
    })
    .await;
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow_and_a_scim_body() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let cases = [
            (reqwest::Method::DELETE, "/Users", "POST"),
            (reqwest::Method::PUT, "/Users", "GET"),
            (reqwest::Method::PATCH, "/Groups", "POST"),
            (reqwest::Method::POST, "/Users/some-id", "PATCH"),
            (reqwest::Method::GET, "/Users/.search", "POST"),
            (reqwest::Method::GET, "/.search", "POST"),
            (reqwest::Method::DELETE, "/Bulk", "POST"),
        ];
        for (method, path, allowed) in cases {
            let r = raw_body(scim, method.clone(), path, "{}").await;
            assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
            r.expect_error(405, None);
            let allow = r.header("allow").unwrap_or_else(|| panic!("{method} {path}: no Allow"));
            assert!(allow.contains(allowed), "{method} {path}: Allow {allow}");
        }
    })
    .await;
}

#[tokio::test]
async fn error_bodies_are_scim_json_with_a_string_status_and_a_detail() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim.get("/Users/nope").await;
        r.expect_error(404, None);
        assert!(r.body["status"].is_string());
        assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        let r = scim.with_token(None).get("/Users").await;
        r.expect_error(401, None);
        assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        scim.create_user("d@x.io", json!({})).await;
        let r = scim.post("/Users", &json!({"schemas": [USER], "userName": "D@x.io"})).await;
        r.expect_error(409, Some("uniqueness"));
        assert!(r.body["detail"].as_str().unwrap().contains("D@x.io"), "{}", r.text);
    })
    .await;
}
