//! Discovery (RFC 7644 §4): /ServiceProviderConfig (public), /ResourceTypes and /Schemas
//! (token required), 404 for unknown ids, 403 for a filter, 405 for writes; /Me is 501.

use roster_testkit::body::{ENTERPRISE, GROUP, USER};
use roster_testkit::{ScimClient, each_backend};
use serde_json::{Value, json};

use crate::support::{expect_list, resources};

const SPC: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

#[tokio::test]
async fn service_provider_config_is_public_and_tells_the_truth() {
    each_backend(|app| async move {
        let anonymous = app.scim.with_token(None);
        for client in [&anonymous, &app.scim] {
            let r = client.get("/ServiceProviderConfig").await;
            r.expect(200);
            assert_eq!(r.header("content-type"), Some("application/scim+json"));
            let b = &r.body;
            assert_eq!(b["schemas"], json!([SPC]));
            assert_eq!(b["patch"]["supported"], true);
            assert_eq!(b["bulk"]["supported"], true);
            assert_eq!(b["bulk"]["maxOperations"], 1000);
            assert_eq!(b["bulk"]["maxPayloadSize"], 1_048_576);
            assert_eq!(b["filter"]["supported"], true);
            assert_eq!(b["filter"]["maxResults"], 1000);
            assert_eq!(b["changePassword"]["supported"], false);
            assert_eq!(b["sort"]["supported"], true);
            assert_eq!(b["etag"]["supported"], true);
            assert_eq!(b["authenticationSchemes"][0]["type"], "oauthbearertoken");
            assert_eq!(b["authenticationSchemes"][0]["primary"], true);
            assert_eq!(b["meta"]["resourceType"], "ServiceProviderConfig");
            assert_eq!(b["meta"]["location"], format!("{}/ServiceProviderConfig", app.scim.base).as_str());
            assert!(!r.text.contains("null"), "no nulls: {}", r.text);
        }
        // An unknown tenant has no configuration.
        let other = ScimClient::new(&app.base_url("no-such-tenant"), None);
        other.get("/ServiceProviderConfig").await.expect_error(404, None);
    })
    .await;
}

#[tokio::test]
async fn resource_types_list_and_fetch_by_id() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim.get("/ResourceTypes").await;
        expect_list(&r, 2, 1, 2);
        let list = resources(&r);
        let user = list.iter().find(|t| t["id"] == "User").expect("User type");
        assert_eq!(user["schemas"], json!([RESOURCE_TYPE]));
        assert_eq!(user["name"], "User");
        assert_eq!(user["endpoint"], "/Users");
        assert_eq!(user["schema"], USER);
        let extensions: Vec<&str> =
            user["schemaExtensions"].as_array().unwrap().iter().map(|e| e["schema"].as_str().unwrap()).collect();
        assert!(extensions.contains(&ENTERPRISE), "{extensions:?}");
        assert!(user["schemaExtensions"].as_array().unwrap().iter().all(|e| e["required"] == false));
        assert_eq!(user["meta"]["resourceType"], "ResourceType");
        assert_eq!(user["meta"]["location"], format!("{}/ResourceTypes/User", scim.base).as_str());
        let group = list.iter().find(|t| t["id"] == "Group").expect("Group type");
        assert_eq!(group["endpoint"], "/Groups");
        assert_eq!(group["schema"], GROUP);

        let one = scim.get("/ResourceTypes/User").await;
        one.expect(200);
        assert_eq!(&one.body, user);
        scim.get("/ResourceTypes/Group").await.expect(200);
        scim.get("/ResourceTypes/Widget").await.expect_error(404, None);
    })
    .await;
}

#[tokio::test]
async fn schemas_list_every_schema_with_full_attribute_definitions() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let r = scim.get("/Schemas").await;
        r.expect(200);
        assert!(!r.text.contains(":null"), "no nulls: {}", r.text);
        let docs = resources(&r);
        assert_eq!(r.body["totalResults"], json!(docs.len()));
        let ids: Vec<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
        for urn in [USER, GROUP, ENTERPRISE, SPC, RESOURCE_TYPE, SCHEMA] {
            assert!(ids.contains(&urn), "{urn} missing from {ids:?}");
        }
        let user = docs.iter().find(|d| d["id"] == USER).unwrap();
        assert_eq!(user["schemas"], json!([SCHEMA]));
        assert_eq!(user["meta"]["resourceType"], "Schema");
        let attrs = user["attributes"].as_array().unwrap();
        let attr = |name: &str| -> Value {
            attrs.iter().find(|a| a["name"] == name).unwrap_or_else(|| panic!("{name} not in the User schema")).clone()
        };
        let user_name = attr("userName");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["caseExact"], false);
        let password = attr("password");
        assert_eq!(password["returned"], "never");
        assert_eq!(password["mutability"], "writeOnly");
        let groups = attr("groups");
        assert_eq!(groups["mutability"], "readOnly");
        let emails = attr("emails");
        assert_eq!(emails["multiValued"], true);
        let email_type =
            emails["subAttributes"].as_array().unwrap().iter().find(|s| s["name"] == "type").unwrap().clone();
        assert_eq!(email_type["canonicalValues"], json!(["work", "home", "other"]));
        for a in attrs {
            for key in ["name", "type", "multiValued", "description", "required", "mutability", "returned"] {
                assert!(a.get(key).is_some(), "{key} missing in {a}");
            }
        }

        let one = scim.get(&format!("/Schemas/{USER}")).await;
        one.expect(200);
        assert_eq!(&one.body, user);
        scim.get(&format!("/Schemas/{ENTERPRISE}")).await.expect(200);
        scim.get("/Schemas/urn:nope").await.expect_error(404, None);
    })
    .await;
}

#[tokio::test]
async fn discovery_endpoints_refuse_filters_with_403_and_ignore_paging() {
    each_backend(|app| async move {
        let scim = &app.scim;
        for path in ["/Schemas", "/ResourceTypes", "/ServiceProviderConfig"] {
            let r = scim.get(&format!("{path}?filter=id%20eq%20%22User%22")).await;
            assert_eq!(r.status, 403, "{path}: {}", r.text);
            r.expect_error(403, None);
        }
        let all = scim.get("/Schemas").await;
        let paged = scim.get("/Schemas?startIndex=2&count=1&sortBy=id").await;
        paged.expect(200);
        assert_eq!(paged.body["totalResults"], all.body["totalResults"]);
        assert_eq!(paged.body["Resources"], all.body["Resources"]);
        let types = scim.get("/ResourceTypes?count=1").await;
        expect_list(&types, 2, 1, 2);
    })
    .await;
}

#[tokio::test]
async fn discovery_endpoints_answer_405_with_allow_for_writes() {
    each_backend(|app| async move {
        let scim = &app.scim;
        for path in
            ["/Schemas", &format!("/Schemas/{USER}"), "/ResourceTypes", "/ResourceTypes/User", "/ServiceProviderConfig"]
        {
            for method in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::PATCH, reqwest::Method::DELETE]
            {
                let r = ScimClient::send(
                    scim.request(method.clone(), path).header("Content-Type", "application/scim+json").body("{}"),
                )
                .await;
                assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
                r.expect_error(405, None);
                let allow = r.header("allow").unwrap_or_else(|| panic!("{method} {path}: no Allow"));
                assert!(allow.contains("GET"), "{method} {path}: Allow {allow}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn schemas_and_resource_types_need_a_token() {
    each_backend(|app| async move {
        let anonymous = app.scim.with_token(None);
        for path in ["/Schemas", "/ResourceTypes", "/ResourceTypes/User", &format!("/Schemas/{USER}")] {
            anonymous.get(path).await.expect_error(401, None);
        }
    })
    .await;
}

#[tokio::test]
async fn me_is_501_for_every_method() {
    each_backend(|app| async move {
        let scim = &app.scim;
        for method in [
            reqwest::Method::GET,
            reqwest::Method::POST,
            reqwest::Method::PUT,
            reqwest::Method::PATCH,
            reqwest::Method::DELETE,
        ] {
            for path in ["/Me", "/Me/anything"] {
                let r = ScimClient::send(
                    scim.request(method.clone(), path).header("Content-Type", "application/scim+json").body("{}"),
                )
                .await;
                assert_eq!(r.status, 501, "{method} {path}: {}", r.text);
                r.expect_error(501, None);
            }
        }
    })
    .await;
}
