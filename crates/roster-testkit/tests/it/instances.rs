//! Several Roster instances on one database (issue: PostgreSQL and a load balancer):
//! nothing that matters lives only in one process.

use futures_util::future::join_all;
use roster_testkit::{body, each_backend};
use serde_json::json;

#[tokio::test]
async fn parallel_member_adds_through_two_instances_lose_nothing() {
    each_backend(|a| async move {
        let b = a.second_instance().await;
        let group = a.scim.create_group("Everyone", &[]).await;
        let mut users = Vec::new();
        for i in 0..24 {
            users.push(a.scim.create_user(&format!("u{i}@example.com"), json!({})).await);
        }
        let adds = users.iter().enumerate().map(|(i, u)| {
            let client = if i % 2 == 0 { a.scim.clone() } else { b.scim.clone() };
            let path = format!("/Groups/{group}");
            let op = json!([{"op": "add", "path": "members", "value": [{"value": u}]}]);
            async move { client.patch_ops(&path, op).await.status }
        });
        let statuses = join_all(adds).await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        let got = b.scim.get(&format!("/Groups/{group}")).await;
        let mut members: Vec<String> =
            got.body["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_string()).collect();
        members.sort();
        let mut expected = users.clone();
        expected.sort();
        assert_eq!(members, expected);
        // 24 changes, each one version.
        assert_eq!(got.header("etag"), Some("W/\"25\""));
        b.stop().await;
    })
    .await;
}

#[tokio::test]
async fn parallel_creates_of_one_user_name_through_two_instances_give_one_201_and_one_409() {
    each_backend(|a| async move {
        let b = a.second_instance().await;
        for round in 0..5 {
            let name = format!("race{round}@example.com");
            let user = body::user(&name);
            let (ra, rb) = tokio::join!(a.scim.post("/Users", &user), b.scim.post("/Users", &user));
            let mut statuses = vec![ra.status, rb.status];
            statuses.sort();
            assert_eq!(statuses, vec![201, 409], "{} / {}", ra.text, rb.text);
            let loser = if ra.status == 409 { &ra } else { &rb };
            loser.expect_error(409, Some("uniqueness"));
        }
        b.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_etag_from_one_instance_is_honoured_by_the_other() {
    each_backend(|a| async move {
        let b = a.second_instance().await;
        let id = a.scim.create_user("etag@example.com", json!({"title": "One"})).await;
        let etag = a.scim.get(&format!("/Users/{id}")).await.header("etag").unwrap().to_string();
        let not_modified = roster_testkit::ScimClient::send(
            b.scim.request(reqwest::Method::GET, &format!("/Users/{id}")).header("If-None-Match", &etag),
        )
        .await;
        not_modified.expect(304);
        let patch =
            json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Two"}]});
        let ok = roster_testkit::ScimClient::send(
            b.scim.request(reqwest::Method::PATCH, &format!("/Users/{id}")).header("If-Match", &etag).json(&patch),
        )
        .await;
        ok.expect(200);
        // The old tag is now stale on A as well.
        let stale = roster_testkit::ScimClient::send(
            a.scim.request(reqwest::Method::PATCH, &format!("/Users/{id}")).header("If-Match", &etag).json(&patch),
        )
        .await;
        stale.expect_error(412, None);
        b.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_token_disabled_through_one_instance_is_refused_by_the_other_at_once() {
    each_backend(|a| async move {
        let b = a.second_instance().await;
        b.scim.get("/Users").await.expect(200);
        let token_id = roster_core::tokens::parse(&a.token).unwrap().0.to_string();
        let admin = a.admin().await;
        admin.post(&format!("/tenants/default/tokens/{token_id}/disable"), &json!({})).await.expect(200);
        let refused = b.scim.get("/Users").await;
        refused.expect_error(401, None);
        assert!(refused.body["detail"].as_str().unwrap().contains("disabled"), "{}", refused.text);
        admin.post(&format!("/tenants/default/tokens/{token_id}/enable"), &json!({})).await.expect(200);
        b.scim.get("/Users").await.expect(200);
        b.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_custom_attribute_defined_on_one_instance_is_in_the_others_schemas() {
    each_backend(|a| async move {
        let b = a.second_instance().await;
        // B caches its registry first, so the test sees the cache being refreshed.
        let before = b.scim.get("/Schemas/urn:ietf:params:scim:schemas:extension:roster:2.0:User").await;
        assert_eq!(before.body["attributes"], json!([]));
        a.admin().await.post("/tenants/default/attributes", &json!({"name": "badge", "type": "integer"})).await.expect(201);
        let after = b.scim.get("/Schemas/urn:ietf:params:scim:schemas:extension:roster:2.0:User").await;
        assert_eq!(after.body["attributes"][0]["name"], "badge", "{}", after.text);
        b.scim
            .post(
                "/Users",
                &json!({"userName": "badge@example.com", "urn:ietf:params:scim:schemas:extension:roster:2.0:User": {"badge": 7}}),
            )
            .await
            .expect(201);
        b.stop().await;
    })
    .await;
}
