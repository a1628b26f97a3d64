//! Index pagination (RFC 7644 §3.4.2.4): 1-based startIndex, count, true totalResults on
//! every page, a deterministic default order (F-20), and the default and maximum page sizes.

use roster_testkit::body::USER;
use roster_testkit::{ScimClient, each_backend};
use serde_json::{Value, json};

use crate::support::{enc, expect_list, ids};

/// Creates `n` users named `user-00`, `user-01`, … and returns their ids in creation order.
async fn users(scim: &ScimClient, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(scim.create_user(&format!("user-{i:02}"), json!({})).await);
    }
    out
}

/// Creates `n` users through /Bulk (fast), named `{prefix}-{i}`.
async fn bulk_users(scim: &ScimClient, prefix: &str, n: usize) {
    for chunk_start in (0..n).step_by(1000) {
        let ops: Vec<Value> = (chunk_start..n.min(chunk_start + 1000))
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                       "data": {"schemas": [USER], "userName": format!("{prefix}-{i:04}")}})
            })
            .collect();
        let r = scim
            .post(
                "/Bulk",
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}),
            )
            .await;
        r.expect(200);
        assert!(r.body["Operations"].as_array().unwrap().iter().all(|o| o["status"] == "201"), "{}", r.text);
    }
}

#[tokio::test]
async fn pages_carry_the_true_total_and_together_list_every_user_once_in_creation_order() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = users(scim, 25).await;
        let mut seen = Vec::new();
        for (start, items) in [(1, 10), (11, 10), (21, 5)] {
            let r = scim.get(&format!("/Users?startIndex={start}&count=10")).await;
            expect_list(&r, 25, start, items);
            seen.extend(ids(&r));
        }
        assert_eq!(seen, created);

        // The MS-LOGICAPP walk: startIndex += len(Resources).
        let mut start = 1;
        let mut walked = Vec::new();
        loop {
            let r = scim.get(&format!("/Users?startIndex={start}&count=7")).await;
            assert_eq!(r.body["startIndex"], json!(start));
            assert_eq!(r.body["totalResults"], 25);
            let page = ids(&r);
            if page.is_empty() {
                break;
            }
            start += page.len() as u64;
            walked.extend(page);
        }
        assert_eq!(walked, created);
    })
    .await;
}

#[tokio::test]
async fn default_order_is_stable_across_updates() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = users(scim, 6).await;
        app.clock.advance(time::Duration::seconds(1));
        scim.patch_ops(
            &format!("/Users/{}", created[2]),
            json!([{"op": "replace", "path": "nickName", "value": "moved?"}]),
        )
        .await
        .expect(200);
        let first = ids(&scim.get("/Users").await);
        let second = ids(&scim.get("/Users").await);
        assert_eq!(first, created);
        assert_eq!(second, created);
    })
    .await;
}

#[tokio::test]
async fn filtered_pages_report_the_filtered_total() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = users(scim, 25).await;
        // user-1, user-10 .. user-19 — written with zero padding: user-01, user-10..user-19.
        let f = enc("userName sw \"user-1\" or userName eq \"user-01\"");
        let mut seen = Vec::new();
        for (start, items) in [(1, 4), (5, 4), (9, 3), (12, 0)] {
            let r = scim.get(&format!("/Users?filter={f}&startIndex={start}&count=4")).await;
            expect_list(&r, 11, start, items);
            seen.extend(ids(&r));
        }
        let mut expected = vec![created[1].clone()];
        expected.extend(created[10..20].iter().cloned());
        assert_eq!(seen, expected);
    })
    .await;
}

#[tokio::test]
async fn out_of_range_paging_values_are_clamped_not_refused() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = users(scim, 5).await;
        // count=0: totals only.
        let r = scim.get("/Users?count=0").await;
        expect_list(&r, 5, 1, 0);
        assert_eq!(r.body["Resources"], json!([]));
        // startIndex below 1 means 1; a negative count means 0.
        let r = scim.get("/Users?startIndex=0&count=2").await;
        expect_list(&r, 5, 1, 2);
        assert_eq!(ids(&r), created[..2].to_vec());
        let r = scim.get("/Users?startIndex=-2").await;
        expect_list(&r, 5, 1, 5);
        let r = scim.get("/Users?count=-3").await;
        expect_list(&r, 5, 1, 0);
        // Beyond the end: an empty page with the total unchanged.
        let r = scim.get("/Users?startIndex=6").await;
        expect_list(&r, 5, 6, 0);
        let r = scim.get("/Users?startIndex=100&count=10").await;
        expect_list(&r, 5, 100, 0);
        // Numbers are JSON integers.
        assert!(r.body["totalResults"].is_u64());
        assert!(r.body["startIndex"].is_u64());
        assert!(r.body["itemsPerPage"].is_u64());
        // Paging through /.search uses the same rules.
        let r = scim.post("/Users/.search", &json!({"startIndex": 4, "count": 10})).await;
        expect_list(&r, 5, 4, 2);
        assert_eq!(ids(&r), created[3..].to_vec());
    })
    .await;
}

#[tokio::test]
async fn non_numeric_paging_values_are_400_invalid_value() {
    each_backend(|app| async move {
        let scim = &app.scim;
        for q in ["startIndex=abc", "count=ten", "count=1.5", "startIndex=--1"] {
            let r = scim.get(&format!("/Users?{q}")).await;
            assert_eq!(r.status, 400, "{q}: {}", r.text);
            r.expect_error(400, Some("invalidValue"));
        }
        scim.post("/Users/.search", &json!({"count": "many"})).await.expect_error(400, Some("invalidValue"));
    })
    .await;
}

#[tokio::test]
async fn default_page_size_is_100_and_count_is_capped_at_1000() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let spc = scim.get("/ServiceProviderConfig").await;
        assert_eq!(spc.body["filter"]["maxResults"], 1000);
        assert_eq!(spc.body["pagination"]["defaultPageSize"], 100);
        assert_eq!(spc.body["pagination"]["maxPageSize"], 1000);

        bulk_users(scim, "bulk", 1001).await;
        let r = scim.get("/Users").await;
        expect_list(&r, 1001, 1, 100);
        let r = scim.get("/Users?count=5000").await;
        expect_list(&r, 1001, 1, 1000);
        let r = scim.get("/Users?startIndex=1000&count=5000").await;
        expect_list(&r, 1001, 1000, 2);
        let r = scim.post("/Users/.search", &json!({"count": 100000})).await;
        expect_list(&r, 1001, 1, 1000);
    })
    .await;
}

/// RFC 9865: a cursor walk returns every user exactly once, in creation order, with
/// `nextCursor` on every page but the last and the first page's total throughout.
#[tokio::test]
async fn a_cursor_walk_returns_every_user_once_and_ends_without_next_cursor() {
    roster_testkit::each_backend(|app| async move {
        let mut created = Vec::new();
        for i in 0..23 {
            created.push(app.scim.create_user(&format!("walk{i:02}@example.com"), serde_json::json!({})).await);
        }
        let mut seen = Vec::new();
        let mut cursor = String::new();
        let mut pages = 0;
        loop {
            let r = app.scim.get(&format!("/Users?count=5&cursor={cursor}")).await;
            r.expect(200);
            pages += 1;
            assert_eq!(r.body["totalResults"], 23, "{}", r.text);
            assert!(r.body.get("startIndex").is_none(), "cursor pages carry no startIndex");
            for u in r.body["Resources"].as_array().unwrap() {
                seen.push(u["id"].as_str().unwrap().to_string());
            }
            match r.body.get("nextCursor").and_then(|c| c.as_str()) {
                Some(next) => {
                    assert_eq!(r.body["itemsPerPage"], 5);
                    cursor = next.to_string();
                }
                None => break,
            }
            // Changes during the walk do not make it repeat or skip what existed before.
            if pages == 2 {
                app.scim.create_user("late@example.com", serde_json::json!({})).await;
            }
        }
        assert_eq!(pages, 5);
        created.push(seen.last().cloned().unwrap_or_default());
        let expected: Vec<String> = created[..23].to_vec();
        assert_eq!(&seen[..23], &expected[..]);
        assert_eq!(seen.len(), 24, "the user created during the walk comes last");
    })
    .await;
}

#[tokio::test]
async fn cursor_errors_are_invalid_cursor_and_invalid_count() {
    roster_testkit::each_backend(|app| async move {
        app.scim.create_user("c@example.com", serde_json::json!({})).await;
        app.scim.get("/Users?cursor=bogus").await.expect_error(400, Some("invalidCursor"));
        app.scim.get("/Users?cursor=c1-2").await.expect_error(400, Some("invalidCursor"));
        app.scim.get("/Users?cursor=&count=0").await.expect_error(400, Some("invalidCount"));
        let spc = app.scim.get("/ServiceProviderConfig").await;
        assert_eq!(spc.body["pagination"]["cursor"], true);
        assert_eq!(spc.body["pagination"]["index"], true);
        // A sorted cursor walk works too.
        let r = app.scim.get("/Users?cursor=&count=1&sortBy=userName&sortOrder=descending").await;
        r.expect(200);
        assert!(r.body.get("nextCursor").is_none(), "one user, one page: {}", r.text);
    })
    .await;
}
