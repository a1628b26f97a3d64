//! /Bulk (RFC 7644 §3.7): bulkId references in any order, per-operation results with the
//! same statuses as single requests, failOnErrors, and the advertised limits enforced
//! with 413.

use roster_testkit::body::{GROUP, PATCH_OP, USER};
use roster_testkit::{ScimClient, each_backend};
use serde_json::{Value, json};

use crate::support::{filter, member_ids};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

async fn bulk(scim: &ScimClient, operations: Value, fail_on_errors: Option<u64>) -> Value {
    let mut request = json!({"schemas": [BULK_REQUEST], "Operations": operations});
    if let Some(n) = fail_on_errors {
        request["failOnErrors"] = json!(n);
    }
    let r = scim.post("/Bulk", &request).await;
    r.expect(200);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(r.body["schemas"], json!([BULK_RESPONSE]), "{}", r.text);
    r.body
}

fn statuses(response: &Value) -> Vec<String> {
    response["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().expect("status is a string").to_string())
        .collect()
}

fn id_from_location(location: &Value) -> String {
    location.as_str().expect("location").rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn bulk_resolves_bulk_id_references_in_any_order() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let existing = scim.create_user("existing@x.io", json!({"nickName": "nick"})).await;
        let doomed = scim.create_user("doomed@x.io", json!({})).await;
        let response = bulk(
            scim,
            json!([
                // A forward reference: the group names a user created later in the request.
                {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
                 "data": {"schemas": [GROUP], "displayName": "Tour Guides",
                          "members": [{"type": "User", "value": "bulkId:qwerty"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "qwerty",
                 "data": {"schemas": [USER], "userName": "Alice"}},
                {"method": "PUT", "path": format!("/Users/{existing}"), "version": "W/\"1\"",
                 "data": {"schemas": [USER], "userName": "existing@x.io", "title": "Put"}},
                {"method": "PATCH", "path": "/Users/bulkId:qwerty",
                 "data": {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "nickName", "value": "Al"}]}},
                {"method": "PATCH", "path": format!("/Users/{existing}"),
                 "data": {"schemas": [PATCH_OP], "Operations": [
                     {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "bulkId:qwerty"}]}},
                {"method": "DELETE", "path": format!("/Users/{doomed}"), "version": "W/\"1\""}
            ]),
            None,
        )
        .await;
        assert_eq!(statuses(&response), vec!["201", "201", "200", "200", "200", "204"], "{response}");
        let ops = response["Operations"].as_array().unwrap();
        assert_eq!(ops[0]["bulkId"], "ytrewq");
        assert_eq!(ops[0]["method"], "POST");
        assert_eq!(ops[1]["bulkId"], "qwerty");
        let group_id = id_from_location(&ops[0]["location"]);
        let alice = id_from_location(&ops[1]["location"]);
        assert_eq!(ops[1]["location"], format!("{}/Users/{alice}", scim.base).as_str());
        assert_eq!(ops[1]["version"], "W/\"1\"");
        assert_eq!(ops[2]["version"], "W/\"2\"");
        assert_eq!(ops[3]["location"], format!("{}/Users/{alice}", scim.base).as_str());
        assert_eq!(ops[5]["method"], "DELETE");
        assert!(!alice.contains("bulkId"));

        let group = scim.get(&format!("/Groups/{group_id}")).await;
        group.expect(200);
        assert_eq!(member_ids(&group.body), vec![alice.clone()]);
        let a = scim.get(&format!("/Users/{alice}")).await;
        assert_eq!(a.body["userName"], "Alice");
        assert_eq!(a.body["nickName"], "Al");
        let e = scim.get(&format!("/Users/{existing}")).await;
        assert_eq!(e.body["title"], "Put");
        assert!(e.body.get("nickName").is_none(), "PUT cleared it");
        assert_eq!(
            e.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
            alice.as_str()
        );
        scim.get(&format!("/Users/{doomed}")).await.expect_error(404, None);
    })
    .await;
}

#[tokio::test]
async fn bulk_operations_fail_one_by_one_with_the_single_request_statuses() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let taken = scim.create_user("taken@x.io", json!({})).await;
        let response = bulk(
            scim,
            json!([
                {"method": "POST", "path": "/Users", "bulkId": "dup",
                 "data": {"schemas": [USER], "userName": "TAKEN@x.io"}},
                {"method": "POST", "path": "/Users", "bulkId": "ok",
                 "data": {"schemas": [USER], "userName": "fresh@x.io"}},
                {"method": "PATCH", "path": "/Users/missing",
                 "data": {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "nickName", "value": "x"}]}},
                {"method": "PUT", "path": format!("/Users/{taken}"), "version": "W/\"9\"",
                 "data": {"schemas": [USER], "userName": "taken@x.io", "title": "x"}},
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"schemas": [GROUP], "displayName": "G", "members": [{"value": "bulkId:nobody"}]}},
                {"method": "POST", "path": "/Users",
                 "data": {"schemas": [USER], "userName": "no-bulk-id"}},
                {"method": "PUT", "path": "/Users/x"},
                {"path": "/Users/x"},
                {"method": "FETCH", "path": "/Users/x"},
                {"method": "DELETE"},
                {"method": "DELETE", "path": "/Widgets/1"},
                {"method": "PATCH", "path": format!("/Users/{taken}"),
                 "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "id", "value": "x"}]}}
            ]),
            None,
        )
        .await;
        assert_eq!(
            statuses(&response),
            vec!["409", "201", "404", "412", "409", "400", "400", "400", "400", "400", "400", "400"],
            "{response}"
        );
        let ops = response["Operations"].as_array().unwrap();
        let scim_type = |i: usize| ops[i]["response"]["scimType"].as_str().map(str::to_string);
        for (i, op) in ops.iter().enumerate() {
            if op["status"] != "201" {
                let err = &op["response"];
                assert_eq!(err["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "op {i}: {op}");
                assert_eq!(err["status"], op["status"], "op {i}: {op}");
            }
        }
        assert_eq!(scim_type(0).as_deref(), Some("uniqueness"));
        assert_eq!(scim_type(4).as_deref(), Some("invalidValue"));
        for (i, op) in ops.iter().enumerate().take(10).skip(5) {
            assert_eq!(scim_type(i).as_deref(), Some("invalidSyntax"), "op {i}: {op}");
        }
        assert_eq!(scim_type(10).as_deref(), Some("invalidPath"));
        assert_eq!(scim_type(11).as_deref(), Some("mutability"));
        assert_eq!(ops[0]["bulkId"], "dup");
        assert!(ops[0].get("location").is_none(), "a failed POST has no location");

        // Only the good operation changed anything.
        let list = scim.get("/Users").await;
        let mut names: Vec<&str> =
            list.body["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap()).collect();
        names.sort();
        assert_eq!(names, vec!["fresh@x.io", "taken@x.io"]);
        assert_eq!(scim.get("/Groups").await.body["totalResults"], 0);
        let t = scim.get(&format!("/Users/{taken}")).await;
        assert_eq!(t.header("etag"), Some("W/\"1\""));
    })
    .await;
}

#[tokio::test]
async fn fail_on_errors_stops_after_that_many_errors_and_omits_the_rest() {
    each_backend(|app| async move {
        let scim = &app.scim;
        scim.create_user("taken@x.io", json!({})).await;
        let ops = json!([
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [USER], "userName": "a@x.io"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"schemas": [USER], "userName": "taken@x.io"}},
            {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"schemas": [USER], "userName": "taken@X.io"}},
            {"method": "POST", "path": "/Users", "bulkId": "d", "data": {"schemas": [USER], "userName": "d@x.io"}}
        ]);
        let response = bulk(scim, ops.clone(), Some(1)).await;
        assert_eq!(statuses(&response), vec!["201", "409"]);
        assert_eq!(
            filter(scim, "/Users", "userName eq \"d@x.io\"").await.body["totalResults"],
            0,
            "the operation after the stop did not run"
        );

        // failOnErrors=2 runs until the second error; without it, everything runs.
        scim.delete(&format!(
            "/Users/{}",
            filter(scim, "/Users", "userName eq \"a@x.io\"").await.body["Resources"][0]["id"].as_str().unwrap()
        ))
        .await
        .expect(204);
        let response = bulk(scim, ops.clone(), Some(2)).await;
        assert_eq!(statuses(&response), vec!["201", "409", "409"]);
        let response = bulk(scim, ops, None).await;
        assert_eq!(statuses(&response), vec!["409", "409", "409", "201"]);
    })
    .await;
}

#[tokio::test]
async fn bulk_beyond_max_operations_is_413_and_runs_nothing() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let spc = scim.get("/ServiceProviderConfig").await;
        let max = spc.body["bulk"]["maxOperations"].as_u64().unwrap();
        assert_eq!(max, 1000);
        let ops: Vec<Value> = (0..=max)
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                            "data": {"schemas": [USER], "userName": format!("u{i}")}})
            })
            .collect();
        let r = scim.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "Operations": ops})).await;
        r.expect_error(413, None);
        assert!(r.body["detail"].as_str().unwrap().contains("1000"), "{}", r.text);
        assert_eq!(scim.get("/Users").await.body["totalResults"], 0);
    })
    .await;
}

#[tokio::test]
async fn bulk_beyond_max_payload_size_is_413_and_runs_nothing() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let spc = scim.get("/ServiceProviderConfig").await;
        let max = spc.body["bulk"]["maxPayloadSize"].as_u64().unwrap() as usize;
        assert_eq!(max, 1_048_576);
        let padding = "x".repeat(max);
        let r = scim
            .post(
                "/Bulk",
                &json!({"schemas": [BULK_REQUEST], "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "a",
                     "data": {"schemas": [USER], "userName": "big", "nickName": padding}}
                ]}),
            )
            .await;
        r.expect_error(413, None);
        assert!(r.body["detail"].as_str().unwrap().contains("1048576"), "{}", r.text);
        assert_eq!(scim.get("/Users").await.body["totalResults"], 0);
    })
    .await;
}

#[tokio::test]
async fn malformed_bulk_requests_are_400() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = ScimClient::send(
            scim.request(reqwest::Method::POST, "/Bulk")
                .header("Content-Type", "application/scim+json")
                .body("{not json"),
        )
        .await;
        r.expect_error(400, Some("invalidSyntax"));
        scim.post("/Bulk", &json!({"schemas": [BULK_REQUEST]})).await.expect_error(400, Some("invalidSyntax"));
        scim.post("/Bulk", &json!([1, 2])).await.expect_error(400, Some("invalidSyntax"));
        scim.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "failOnErrors": "x", "Operations": []}))
            .await
            .expect_error(400, Some("invalidValue"));
        // Bulk only takes POST.
        let r = scim.get("/Bulk").await;
        r.expect_error(405, None);
        assert!(r.header("allow").unwrap().contains("POST"));
        // And it needs a token.
        scim.with_token(None)
            .post("/Bulk", &json!({"schemas": [BULK_REQUEST], "Operations": []}))
            .await
            .expect_error(401, None);
    })
    .await;
}

#[tokio::test]
async fn duplicate_bulk_ids_fail_the_second_operation() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let response = bulk(
            scim,
            json!([
                {"method": "POST", "path": "/Users", "bulkId": "same", "data": {"schemas": [USER], "userName": "one"}},
                {"method": "POST", "path": "/Users", "bulkId": "same", "data": {"schemas": [USER], "userName": "two"}}
            ]),
            None,
        )
        .await;
        assert_eq!(statuses(&response), vec!["201", "400"]);
        assert_eq!(scim.get("/Users").await.body["totalResults"], 1);
    })
    .await;
}
