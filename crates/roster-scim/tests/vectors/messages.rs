//! Wire messages: query parameters and SearchRequest (RFC 7644 §3.4.2–3.4.3), ListResponse,
//! errors (§3.12), ServiceProviderConfig (RFC 7643 §5) and Bulk (§3.7).

use std::collections::HashMap;

use pretty_assertions::assert_eq;
use roster_scim::bulk::{
    BULK_RESPONSE_SCHEMA, BulkLimits, BulkMethod, BulkRequest, BulkResult, bulk_response, substitute,
};
use roster_scim::discovery::ServiceProviderConfig;
use roster_scim::messages::{ListQuery, ListResponse, SortOrder, decode_query};
use roster_scim::{ScimError, ScimType};
use serde_json::{Value, json};

use crate::{BASE, assert_scim, null_paths};

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn query(raw: &str) -> ListQuery {
    ListQuery::from_params(&decode_query(raw).unwrap()).unwrap()
}

// ---- query strings ------------------------------------------------------------------------

#[test]
fn plus_and_percent_twenty_both_decode_to_spaces() {
    assert_eq!(query("filter=userName+eq+%22x%22").filter.as_deref(), Some(r#"userName eq "x""#));
    assert_eq!(query("filter=userName%20eq%20%22x%22").filter.as_deref(), Some(r#"userName eq "x""#));
    // A literal plus arrives percent-encoded.
    assert_eq!(query("filter=userName+eq+%22a%2Bb%40x.io%22").filter.as_deref(), Some(r#"userName eq "a+b@x.io""#));
}

#[test]
fn raw_spaces_and_quotes_in_the_query_are_kept() {
    assert_eq!(query(r#"filter=userName eq "x"&startIndex=1&count=100"#).filter.as_deref(), Some(r#"userName eq "x""#));
}

#[test]
fn unknown_and_empty_parameters_are_ignored() {
    let q = query("aadOptscim062020&filter=userName+eq+%22a%40x.io%22&&=x&domain=PRIMARY&");
    assert_eq!(q.filter.as_deref(), Some(r#"userName eq "a@x.io""#));
    assert_eq!(q.start_index, 1);
    assert_eq!(q.count, None);
    assert_eq!(query(""), ListQuery { start_index: 1, ..ListQuery::default() });
}

#[test]
fn parameter_names_are_case_insensitive() {
    let q = query(
        "FILTER=title+pr&StartIndex=3&COUNT=5&sortby=userName&SORTORDER=Descending&Attributes=userName,emails&excludedattributes=",
    );
    assert_eq!(q.filter.as_deref(), Some("title pr"));
    assert_eq!(q.start_index, 3);
    assert_eq!(q.count, Some(5));
    assert_eq!(q.sort_by.as_deref(), Some("userName"));
    assert_eq!(q.sort_order, SortOrder::Descending);
    assert_eq!(q.attributes, vec!["userName", "emails"]);
    assert!(q.excluded_attributes.is_empty());
}

#[test]
fn start_index_below_one_is_one_and_negative_count_is_zero() {
    let q = query("startIndex=-2&count=-5");
    assert_eq!(q.start_index, 1);
    assert_eq!(q.count, Some(0));
    assert_eq!(query("startIndex=0").start_index, 1);
    assert_eq!(query("count=0").count, Some(0));
    assert_eq!(query("startIndex=&count=").count, None);
}

#[test]
fn non_numeric_paging_and_bad_sort_order_are_invalid_value() {
    for raw in [
        "startIndex=abc",
        "count=ten",
        "count=1.5",
        "count=--5",
        "count=--",
        "count=-",
        "startIndex=1-2",
        "sortOrder=sideways",
    ] {
        let params = decode_query(raw).unwrap();
        assert_scim(ListQuery::from_params(&params), ScimType::InvalidValue);
    }
    assert_eq!(query("sortOrder=ASCENDING").sort_order, SortOrder::Ascending);
    // Numbers too large for 64 bits saturate rather than fail.
    assert_eq!(query("count=99999999999999999999999").count, Some(i64::MAX as u64));
    assert_eq!(query("startIndex=-99999999999999999999999").start_index, 1);
    assert_eq!(query("count=+5").count, Some(5));
}

#[test]
fn attribute_lists_are_comma_separated_per_errata_7898() {
    let q = query(
        "attributes=userName,%20name.givenName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    );
    assert_eq!(
        q.attributes,
        vec!["userName", "name.givenName", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"]
    );
}

#[test]
fn percent_escapes_that_are_not_utf8_are_invalid_value() {
    assert_scim(decode_query("filter=%ff"), ScimType::InvalidValue);
    assert_eq!(decode_query("a=100%").unwrap()[0].1, "100%");
}

// ---- SearchRequest ------------------------------------------------------------------------

#[test]
fn search_request_has_the_query_semantics() {
    let q = ListQuery::from_search_request(&json!({
        "schemas": [SEARCH_REQUEST],
        "attributes": ["displayName", "userName"],
        "excludedAttributes": [],
        "filter": "displayName sw \"smith\"",
        "sortBy": "userName",
        "sortOrder": "ascending",
        "startIndex": 1,
        "count": 10,
        "domain": "PRIMARY"
    }))
    .unwrap();
    assert_eq!(
        q,
        ListQuery {
            filter: Some("displayName sw \"smith\"".into()),
            sort_by: Some("userName".into()),
            sort_order: SortOrder::Ascending,
            start_index: 1,
            count: Some(10),
            attributes: vec!["displayName".into(), "userName".into()],
            excluded_attributes: vec![],
            cursor: None,
        }
    );
}

#[test]
fn search_request_members_are_case_insensitive_and_clamped() {
    let q = ListQuery::from_search_request(&json!({
        "Filter": "title pr", "STARTINDEX": -4, "Count": "-1", "ExcludedAttributes": "emails,name"
    }))
    .unwrap();
    assert_eq!(q.filter.as_deref(), Some("title pr"));
    assert_eq!(q.start_index, 1);
    assert_eq!(q.count, Some(0));
    assert_eq!(q.excluded_attributes, vec!["emails", "name"]);
}

#[test]
fn malformed_search_requests_are_rejected() {
    assert_scim(ListQuery::from_search_request(&json!(["filter"])), ScimType::InvalidSyntax);
    for body in
        [json!({"filter": true}), json!({"attributes": [1]}), json!({"attributes": {"a": 1}}), json!({"count": "many"})]
    {
        assert_scim(ListQuery::from_search_request(&body), ScimType::InvalidValue);
    }
}

// ---- ListResponse ------------------------------------------------------------------------

#[test]
fn an_empty_list_response_still_carries_resources_and_integer_counts() {
    let body = ListResponse { total_results: 0, start_index: Some(1), ..ListResponse::default() }.to_json();
    assert_eq!(
        body,
        json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": 0,
            "startIndex": 1,
            "itemsPerPage": 0,
            "Resources": []
        })
    );
}

#[test]
fn items_per_page_is_the_number_of_resources_in_the_page() {
    let body = ListResponse {
        total_results: 11,
        start_index: Some(6),
        resources: vec![json!({"id": "a"}), json!({"id": "b"})],
        ..ListResponse::default()
    }
    .to_json();
    assert_eq!(body["totalResults"], json!(11));
    assert_eq!(body["startIndex"], json!(6));
    assert_eq!(body["itemsPerPage"], json!(2));
    assert_eq!(body["Resources"], json!([{"id": "a"}, {"id": "b"}]));
    let cursor = ListResponse {
        total_results: 3,
        start_index: None,
        resources: vec![json!({"id": "a"})],
        next_cursor: Some("n".into()),
        previous_cursor: None,
    }
    .to_json();
    assert!(cursor.get("startIndex").is_none());
    assert_eq!(cursor["nextCursor"], "n");
    assert!(cursor.get("previousCursor").is_none());
}

// ---- errors -------------------------------------------------------------------------------

#[test]
fn error_bodies_carry_status_as_a_string_and_scim_type() {
    let body = ScimError::uniqueness("userName 'bjensen' is already in use").to_json();
    assert_eq!(
        body,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": "409",
            "scimType": "uniqueness",
            "detail": "userName 'bjensen' is already in use"
        })
    );
    let body = ScimError::not_found("Resource 23B51B0E not found").to_json();
    assert_eq!(body["status"], "404");
    assert!(body.get("scimType").is_none());
    assert_eq!(ScimError::mutability("x").status, 400);
    assert_eq!(ScimError::precondition_failed("x").status, 412);
    assert_eq!(ScimError::payload_too_large("x").status, 413);
    assert_eq!(ScimError::not_implemented("x").status, 501);
    assert_eq!(ScimType::Sensitive.status(), 403);
}

// ---- ServiceProviderConfig ----------------------------------------------------------------

#[test]
fn service_provider_config_tells_what_roster_supports() {
    let doc = ServiceProviderConfig::default().to_json(BASE);
    assert_eq!(doc["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]));
    assert_eq!(doc["patch"], json!({"supported": true}));
    assert_eq!(doc["bulk"], json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576}));
    assert_eq!(doc["filter"], json!({"supported": true, "maxResults": 1000}));
    assert_eq!(doc["changePassword"], json!({"supported": false}));
    assert_eq!(doc["sort"], json!({"supported": true}));
    assert_eq!(doc["etag"], json!({"supported": true}));
    let schemes = doc["authenticationSchemes"].as_array().unwrap();
    assert_eq!(schemes.len(), 1);
    assert_eq!(schemes[0]["type"], "oauthbearertoken");
    assert_eq!(schemes[0]["primary"], true);
    assert!(schemes[0]["name"].is_string() && schemes[0]["description"].is_string());
    assert_eq!(
        doc["meta"],
        json!({"resourceType": "ServiceProviderConfig", "location": format!("{BASE}/ServiceProviderConfig")})
    );
    assert!(doc.get("documentationUri").is_none());
    // RFC 9865 cursors are on by default; Roster's keyset cursors outlive the advertised timeout.
    assert_eq!(doc["pagination"]["cursor"], true);
    assert_eq!(doc["pagination"]["cursorTimeout"], 3600);
    assert_eq!(doc["pagination"]["defaultPaginationMethod"], "index");
    assert_eq!(doc["securityEvents"]["asyncRequest"], "none");
    let uris = doc["securityEvents"]["eventUris"].as_array().unwrap();
    assert!(uris.contains(&json!("urn:ietf:params:scim:event:prov:create:notice")));
    assert!(uris.contains(&json!("urn:ietf:params:scim:event:prov:deactivate")));
    let mut nulls = Vec::new();
    null_paths(&doc, "", &mut nulls);
    assert!(nulls.is_empty(), "{nulls:?}");
}

#[test]
fn service_provider_config_follows_its_settings() {
    let doc = ServiceProviderConfig {
        documentation_uri: Some("https://roster.example/docs/scim".into()),
        bulk: BulkLimits { max_operations: 50, max_payload_size: 4096 },
        max_results: 200,
        default_page_size: 50,
        cursor_pagination: true,
        cursor_timeout_secs: 600,
    }
    .to_json(BASE);
    assert_eq!(doc["documentationUri"], "https://roster.example/docs/scim");
    assert_eq!(doc["bulk"]["maxOperations"], 50);
    assert_eq!(doc["bulk"]["maxPayloadSize"], 4096);
    assert_eq!(doc["filter"]["maxResults"], 200);
    assert_eq!(doc["pagination"]["cursor"], true);
    assert_eq!(doc["pagination"]["cursorTimeout"], 600);
    assert_eq!(doc["pagination"]["defaultPageSize"], 50);
}

// ---- Bulk ---------------------------------------------------------------------------------

fn bulk(ops: Value) -> BulkRequest {
    BulkRequest::from_json(
        &json!({"schemas": [BULK_REQUEST], "failOnErrors": 1, "Operations": ops}),
        &BulkLimits::default(),
    )
    .unwrap()
}

/// The RFC 7644 §3.7.1 example request.
fn rfc_bulk() -> BulkRequest {
    bulk(json!([
        {"method": "POST", "path": "/Users", "bulkId": "qwerty",
         "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Alice"}},
        {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
         "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Tour Guides",
                  "members": [{"type": "User", "value": "bulkId:qwerty"}]}},
        {"method": "PUT", "path": "/Users/b7c14771-226c-4d05-8860-134711653041", "version": "W/\"3694e05e9dff591\"",
         "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "b7c14771-226c-4d05-8860-134711653041", "userName": "Bob"}},
        {"method": "PATCH", "path": "/Users/5d8d29d3-342c-4b5f-8683-a3cb6763ffcc",
         "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "remove", "path": "nickName"}]}},
        {"method": "DELETE", "path": "/Users/e9025315-6bea-44e1-899c-1e07454e468b", "version": "W/\"0ee8add0a938e1a\""}
    ]))
}

#[test]
fn the_rfc_bulk_example_parses_in_order() {
    let req = rfc_bulk();
    assert_eq!(req.fail_on_errors, Some(1));
    let methods: Vec<Option<BulkMethod>> = req.operations.iter().map(|o| o.method).collect();
    assert_eq!(
        methods,
        vec![
            Some(BulkMethod::Post),
            Some(BulkMethod::Post),
            Some(BulkMethod::Put),
            Some(BulkMethod::Patch),
            Some(BulkMethod::Delete)
        ]
    );
    assert!(req.operations.iter().all(|o| o.problem.is_none()));
    assert_eq!(req.operations[2].version.as_deref(), Some("W/\"3694e05e9dff591\""));
    assert_eq!(req.execution_order(), vec![0, 1, 2, 3, 4]);
    assert_eq!(req.operations[1].references().into_iter().collect::<Vec<_>>(), vec!["qwerty"]);
}

#[test]
fn forward_bulk_id_references_run_after_the_operation_that_defines_them() {
    let req = bulk(json!([
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:u2"}]}},
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}]}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "one"}},
        {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"userName": "two", "manager": "bulkId:u1"}}
    ]));
    let order = req.execution_order();
    let pos = |i: usize| order.iter().position(|&x| x == i).unwrap();
    assert_eq!(order.len(), 4);
    assert!(pos(2) < pos(3), "u1 before u2: {order:?}");
    assert!(pos(3) < pos(0), "u2 before g: {order:?}");
    assert!(pos(0) < pos(1) && pos(2) < pos(1), "g and u1 before the PATCH: {order:?}");
    assert_eq!(order, vec![2, 3, 0, 1]);
}

#[test]
fn bulk_id_substitution_reaches_paths_and_nested_values() {
    let mut op = bulk(json!([
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": [
            {"op": "add", "path": "members", "value": [{"value": "bulkId:u"}]},
            {"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "BULKID:u"}}
        ]}}
    ]))
    .operations
    .remove(0);
    let created = HashMap::from([("g".to_string(), "G1".to_string()), ("u".to_string(), "U1".to_string())]);
    substitute(&mut op, &created).unwrap();
    assert_eq!(op.path, "/Groups/G1");
    let data = op.data.unwrap();
    assert_eq!(data["Operations"][0]["value"][0]["value"], "U1");
    assert_eq!(
        data["Operations"][1]["value"]["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"],
        "U1"
    );
}

#[test]
fn an_undefined_bulk_id_fails_that_operation_with_409() {
    let mut op = bulk(json!([
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:ghost"}]}}
    ]))
    .operations
    .remove(0);
    let err = substitute(&mut op, &HashMap::new()).unwrap_err();
    assert_eq!(err.status, 409);
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    assert!(err.detail.contains("ghost"), "{}", err.detail);
}

#[test]
fn circular_bulk_ids_go_last() {
    let req = bulk(json!([
        {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": "A", "members": [{"value": "bulkId:b"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "B", "members": [{"value": "bulkId:a"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "c"}}
    ]));
    assert_eq!(req.execution_order(), vec![2, 0, 1]);
}

#[test]
fn malformed_bulk_operations_fail_on_their_own() {
    let req = bulk(json!([
        "not an object",
        {"path": "/Users"},
        {"method": "FETCH", "path": "/Users"},
        {"method": "POST", "bulkId": "x", "data": {}},
        {"method": "POST", "path": "/Users", "data": {"userName": "x"}},
        {"method": "put", "path": "/Users/1"},
        {"method": "POST", "path": "/Users", "bulkId": "d", "data": {"userName": "d1"}},
        {"method": "POST", "path": "/Users", "bulkId": "d", "data": {"userName": "d2"}},
        {"method": "delete", "path": "/Users/1"}
    ]));
    let problems: Vec<Option<ScimType>> =
        req.operations.iter().map(|o| o.problem.as_ref().and_then(|p| p.scim_type)).collect();
    let bad = Some(ScimType::InvalidSyntax);
    assert_eq!(problems, vec![bad, bad, bad, bad, bad, bad, None, bad, None]);
    assert_eq!(req.operations[8].method, Some(BulkMethod::Delete));
    // A failed operation echoes its method and bulkId in the result.
    let failed = BulkResult::failed(&req.operations[7], req.operations[7].problem.as_ref().unwrap());
    let body = failed.to_json();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["bulkId"], "d");
    assert_eq!(body["status"], "400");
    assert_eq!(body["response"]["scimType"], "invalidSyntax");
    assert!(body.get("location").is_none());
}

#[test]
fn bulk_request_structure_and_limits_are_checked() {
    let limits = BulkLimits { max_operations: 2, max_payload_size: 100 };
    let ops: Vec<Value> = (0..3).map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")})).collect();
    let err = BulkRequest::from_json(&json!({"Operations": ops}), &limits).unwrap_err();
    assert_eq!(err.status, 413);
    assert!(err.detail.contains("maxOperations is 2"), "{}", err.detail);
    let err = limits.check_payload(101).unwrap_err();
    assert_eq!(err.status, 413);
    assert!(err.detail.contains("(100)"), "{}", err.detail);
    limits.check_payload(100).unwrap();
    assert_scim(BulkRequest::from_json(&json!({"schemas": [BULK_REQUEST]}), &limits), ScimType::InvalidSyntax);
    assert_scim(
        BulkRequest::from_json(&json!({"Operations": [], "failOnErrors": "one"}), &limits),
        ScimType::InvalidValue,
    );
    let lower = BulkRequest::from_json(
        &json!({"operations": [{"method": "DELETE", "path": "/Users/1"}], "FailOnErrors": 0}),
        &limits,
    )
    .unwrap();
    assert_eq!(lower.operations.len(), 1);
    assert_eq!(lower.fail_on_errors, Some(1));
}

#[test]
fn bulk_responses_carry_string_statuses_and_locations() {
    let body = bulk_response(&[
        BulkResult {
            method: "POST".into(),
            bulk_id: Some("qwerty".into()),
            version: Some("W/\"1\"".into()),
            location: Some(format!("{BASE}/Users/92b725cd")),
            status: 201,
            response: None,
        },
        BulkResult {
            method: "DELETE".into(),
            bulk_id: None,
            version: None,
            location: Some(format!("{BASE}/Users/e9025315")),
            status: 204,
            response: None,
        },
    ]);
    assert_eq!(
        body,
        json!({
            "schemas": [BULK_RESPONSE_SCHEMA],
            "Operations": [
                {"location": format!("{BASE}/Users/92b725cd"), "method": "POST", "bulkId": "qwerty",
                 "version": "W/\"1\"", "status": "201"},
                {"location": format!("{BASE}/Users/e9025315"), "method": "DELETE", "status": "204"}
            ]
        })
    );
}
