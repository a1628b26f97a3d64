//! Filters (RFC 7644 §3.4.2.2, the full grammar with the compatibility extensions of
//! Part F), sorting (§3.4.2.3) and POST /.search (§3.4.3), evaluated by the database.

use roster_testkit::body::{ENTERPRISE, USER};
use roster_testkit::{ScimClient, TestApp, each_backend};
use serde_json::json;

use crate::support::{enc, expect_list, filter, strings};

/// Three users and a group, created a few seconds apart.
struct Fixture {
    alice: String,
    bob: String,
    carol: String,
    admins: String,
    /// `meta.created` of each user.
    created: [String; 3],
}

async fn fixture(app: &TestApp) -> Fixture {
    let scim = &app.scim;
    let a = scim
        .post(
            "/Users",
            &json!({
                "schemas": [USER, ENTERPRISE],
                "userName": "alice",
                "externalId": "EXT-A",
                "displayName": "Alice A",
                "title": "Boss",
                "userType": "Employee",
                "active": true,
                "name": {"familyName": "O'Malley", "givenName": "Alice"},
                "emails": [
                    {"value": "alice@example.com", "type": "work", "primary": true},
                    {"value": "alice@home.org", "type": "home"}
                ],
                ENTERPRISE: {"employeeNumber": "701984"}
            }),
        )
        .await;
    a.expect(201);
    app.clock.advance(time::Duration::seconds(10));
    let b = scim
        .post(
            "/Users",
            &json!({
                "schemas": [USER],
                "userName": "Bob",
                "externalId": "ext-b",
                "userType": "Intern",
                "nickName": "bobby",
                "active": false,
                "name": {"familyName": "Zed"},
                "emails": [{"value": "bob@example.org", "type": "work"}]
            }),
        )
        .await;
    b.expect(201);
    app.clock.advance(time::Duration::seconds(10));
    let c = scim
        .post(
            "/Users",
            &json!({
                "schemas": [USER],
                "userName": "carol",
                "externalId": "ext-c",
                "displayName": "a \"q\" b café",
                "userType": "Employee",
                "active": true,
                "name": {"familyName": "Martin"},
                "emails": [{"value": "carol@example.com", "type": "home"}]
            }),
        )
        .await;
    c.expect(201);
    let alice = a.id();
    let admins = scim.create_group("Admins", &[&alice]).await;
    let created = [&a, &b, &c].map(|r| r.body["meta"]["created"].as_str().unwrap().to_string());
    Fixture { alice, bob: b.id(), carol: c.id(), admins, created }
}

/// The userNames a /Users filter matches, sorted.
async fn matches(scim: &ScimClient, f: &str) -> Vec<String> {
    let r = filter(scim, "/Users", f).await;
    assert_eq!(r.status, 200, "filter {f:?}: {}", r.text);
    let mut names = strings(&r, "userName");
    assert_eq!(r.body["totalResults"], json!(names.len()), "filter {f:?}: {}", r.text);
    names.sort();
    names
}

#[tokio::test]
async fn filters_cover_the_rfc_grammar_and_its_operators() {
    each_backend(|app| async move {
        let fx = fixture(&app).await;
        let scim = &app.scim;
        let [t_a, _t_b, t_c] = fx.created.clone();
        let cases: Vec<(String, Vec<&str>)> = vec![
            // eq, with userName compared case-insensitively and keywords in any case.
            ("userName eq \"ALICE\"".into(), vec!["alice"]),
            ("USERNAME EQ \"alice\"".into(), vec!["alice"]),
            ("userName Eq \"bob\"".into(), vec!["Bob"]),
            // externalId and id are caseExact.
            ("externalId eq \"ext-a\"".into(), vec![]),
            ("externalId eq \"EXT-A\"".into(), vec!["alice"]),
            (format!("id eq \"{}\"", fx.carol), vec!["carol"]),
            (format!("id eq \"{}\"", fx.carol.to_uppercase()), vec![]),
            (format!("id eq \"{}\" or id eq \"{}\"", fx.alice, fx.bob), vec!["Bob", "alice"]),
            // co, sw, ew.
            ("name.familyName co \"O'Malley\"".into(), vec!["alice"]),
            ("userName co \"LI\"".into(), vec!["alice"]),
            ("userName sw \"b\"".into(), vec!["Bob"]),
            ("userName ew \"OL\"".into(), vec!["carol"]),
            ("userName sw \"alice\"".into(), vec!["alice"]),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"c\"".into(),
                vec!["carol"],
            ),
            // pr, not, and, or, grouping, precedence.
            ("title pr".into(), vec!["alice"]),
            ("not (title pr)".into(), vec!["Bob", "carol"]),
            ("not(userName eq \"alice\")".into(), vec!["Bob", "carol"]),
            ("title pr and userType eq \"Employee\"".into(), vec!["alice"]),
            ("title pr or userType eq \"Intern\"".into(), vec!["Bob", "alice"]),
            (
                "userName eq \"carol\" or userName eq \"alice\" and active eq false".into(),
                vec!["carol"],
            ),
            (
                "(userName eq \"carol\" or userName eq \"alice\") and active eq true".into(),
                vec!["alice", "carol"],
            ),
            ("not (userName eq \"carol\") and active eq true".into(), vec!["alice"]),
            ("userType ne \"Employee\"".into(), vec!["Bob"]),
            (
                "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")".into(),
                vec!["alice", "carol"],
            ),
            (
                "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.net\")".into(),
                vec!["Bob"],
            ),
            // Multi-valued: any value matches; [..] binds one element; F-13 and F-14 forms.
            ("emails[type eq \"work\" and value co \"@example.com\"]".into(), vec!["alice"]),
            ("emails[type eq \"work\" and value co \"home.org\"]".into(), vec![]),
            ("emails.type eq \"work\" and emails.value co \"home.org\"".into(), vec!["alice"]),
            ("emails[type eq \"work\"].value eq \"bob@example.org\"".into(), vec!["Bob"]),
            ("emails eq \"carol@example.com\"".into(), vec!["carol"]),
            ("emails.value ew \".org\"".into(), vec!["Bob", "alice"]),
            (
                "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]".into(),
                vec!["alice"],
            ),
            (
                "emails[type eq \"work\" and value co \"@example.com\"] or emails[type eq \"home\" and value co \"carol\"]".into(),
                vec!["alice", "carol"],
            ),
            // Schemas and extension attributes.
            (format!("schemas eq \"{ENTERPRISE}\""), vec!["alice"]),
            (format!("{ENTERPRISE}:employeeNumber eq \"701984\""), vec!["alice"]),
            // Booleans, with Entra's string booleans (F-2).
            ("active eq true".into(), vec!["alice", "carol"]),
            ("active eq \"False\"".into(), vec!["Bob"]),
            ("active eq \"TRUE\"".into(), vec!["alice", "carol"]),
            // Bare words (F-12).
            ("userName eq bob".into(), vec!["Bob"]),
            ("externalId eq ext-c".into(), vec!["carol"]),
            // null: unassigned (FS9).
            ("nickName eq null".into(), vec!["alice", "carol"]),
            ("nickName ne null".into(), vec!["Bob"]),
            // Escapes in string literals.
            ("displayName eq \"a \\\"q\\\" b caf\\u00e9\"".into(), vec!["carol"]),
            ("displayName eq \"a \\\"q\\\" b café\"".into(), vec!["carol"]),
            // Ordering on strings (case-insensitive for userName) and on dateTimes.
            ("userName gt \"b\"".into(), vec!["Bob", "carol"]),
            ("userName lt \"B\"".into(), vec!["alice"]),
            ("userName ge \"carol\"".into(), vec!["carol"]),
            (format!("meta.created gt \"{t_a}\""), vec!["Bob", "carol"]),
            (format!("meta.created ge \"{t_a}\""), vec!["Bob", "alice", "carol"]),
            (format!("meta.lastModified lt \"{t_c}\""), vec!["Bob", "alice"]),
            (format!("meta.lastModified le \"{t_a}\""), vec!["alice"]),
            // Derived membership.
            (format!("groups.value eq \"{}\"", fx.admins), vec!["alice"]),
        ];
        for (f, expected) in cases {
            assert_eq!(matches(scim, &f).await, expected, "filter {f:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn no_match_is_200_with_zero_results_and_empty_resources() {
    each_backend(|app| async move {
        fixture(&app).await;
        let r = filter(&app.scim, "/Users", "userName eq \"nobody\"").await;
        expect_list(&r, 0, 1, 0);
        assert_eq!(r.body["Resources"], json!([]));
    })
    .await;
}

#[tokio::test]
async fn invalid_filters_are_400_invalid_filter() {
    each_backend(|app| async move {
        fixture(&app).await;
        let scim = &app.scim;
        for f in [
            "userName eq",
            "userName xx \"a\"",
            "active gt true",
            "userName eq \"a\" and",
            "(userName eq \"a\"",
            "emails[type eq \"work\"",
            "emails[type eq \"work\" and ims[type eq \"x\"]]",
            "password eq \"x\"",
            "noSuchAttribute eq \"x\"",
            "active eq \"abc\"",
            "meta.created gt 5",
            "userName eq \"unterminated",
        ] {
            let r = filter(scim, "/Users", f).await;
            assert_eq!(r.status, 400, "filter {f:?}: {}", r.text);
            r.expect_error(400, Some("invalidFilter"));
        }
        let r = filter(scim, "/Groups", "userName eq \"alice\"").await;
        r.expect_error(400, Some("invalidFilter"));
        let r = scim.post("/Users/.search", &json!({"filter": "userName xx \"a\""})).await;
        r.expect_error(400, Some("invalidFilter"));
    })
    .await;
}

#[tokio::test]
async fn group_filters_match_display_name_case_insensitively() {
    each_backend(|app| async move {
        let fx = fixture(&app).await;
        let scim = &app.scim;
        scim.create_group("Sales", &[]).await;
        let r =
            scim.get(&format!("/Groups?excludedAttributes=members&filter={}", enc("displayName eq \"ADMINS\""))).await;
        expect_list(&r, 1, 1, 1);
        assert_eq!(r.body["Resources"][0]["id"], fx.admins.as_str());
        assert!(r.body["Resources"][0].get("members").is_none());
        let r = filter(scim, "/Groups", "displayName co \"al\"").await;
        assert_eq!(strings(&r, "displayName"), vec!["Sales"]);
        let r = filter(scim, "/Groups", &format!("members[value eq \"{}\"]", fx.alice)).await;
        assert_eq!(strings(&r, "displayName"), vec!["Admins"]);
    })
    .await;
}

#[tokio::test]
async fn root_queries_span_users_and_groups() {
    each_backend(|app| async move {
        let fx = fixture(&app).await;
        let scim = &app.scim;
        // The tenant root, with or without the trailing slash.
        for root in ["", "/"] {
            let all = scim.get(root).await;
            expect_list(&all, 4, 1, 4);
        }
        let r = scim
            .get(&format!("?filter={}", enc("displayName eq \"Admins\"")))
            .await;
        expect_list(&r, 1, 1, 1);
        let r = filter(scim, "/", "displayName eq \"admins\"").await;
        expect_list(&r, 1, 1, 1);
        assert_eq!(r.body["Resources"][0]["id"], fx.admins.as_str());
        assert_eq!(r.body["Resources"][0]["meta"]["resourceType"], "Group");
        // userName is no value for groups: only the user matches.
        let r = filter(scim, "/", "userName eq \"alice\" or displayName eq \"Admins\"").await;
        let mut kinds: Vec<String> = r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["meta"]["resourceType"].as_str().unwrap().to_string())
            .collect();
        kinds.sort();
        assert_eq!(kinds, vec!["Group", "User"], "{}", r.text);
        // An attribute neither type has is still a mistake.
        filter(scim, "/", "noSuchAttribute eq \"x\"")
            .await
            .expect_error(400, Some("invalidFilter"));
        let r = scim
            .post(
                "/.search",
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "displayName eq \"Admins\" or userName eq \"carol\"", "count": 10}),
            )
            .await;
        expect_list(&r, 2, 1, 2);
    })
    .await;
}

#[tokio::test]
async fn search_endpoints_answer_200_with_the_same_semantics_as_get() {
    each_backend(|app| async move {
        let fx = fixture(&app).await;
        let scim = &app.scim;
        let r = scim
            .post(
                "/Users/.search",
                &json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "attributes": ["userName", "displayName"],
                    "filter": "userType eq \"Employee\"",
                    "sortBy": "userName",
                    "sortOrder": "descending",
                    "startIndex": 1,
                    "count": 1,
                    "domain": "PRIMARY"
                }),
            )
            .await;
        expect_list(&r, 2, 1, 1);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        let first = &r.body["Resources"][0];
        assert_eq!(first["id"], fx.carol.as_str());
        assert_eq!(first["userName"], "carol");
        assert!(first.get("emails").is_none(), "{}", r.text);
        assert!(first.get("name").is_none(), "{}", r.text);

        let r = scim
            .post("/Groups/.search", &json!({"filter": "displayName eq \"Admins\"", "excludedAttributes": ["members"]}))
            .await;
        expect_list(&r, 1, 1, 1);
        assert!(r.body["Resources"][0].get("members").is_none());

        // An empty search lists everything of the type.
        let r = scim.post("/Users/.search", &json!({})).await;
        expect_list(&r, 3, 1, 3);
        // A search that is not an object is malformed.
        scim.post("/Users/.search", &json!(["filter"])).await.expect_error(400, Some("invalidSyntax"));
        scim.post("/Nope/.search", &json!({})).await.expect_error(404, None);
    })
    .await;
}

async fn sorted_names(scim: &ScimClient, query: &str) -> Vec<String> {
    let r = scim.get(&format!("/Users?{query}")).await;
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    strings(&r, "userName")
}

#[tokio::test]
async fn sort_by_and_sort_order_order_the_results() {
    each_backend(|app| async move {
        fixture(&app).await;
        let scim = &app.scim;
        // Case-insensitive for userName (byte order would put "Bob" first).
        assert_eq!(sorted_names(scim, "sortBy=userName").await, vec!["alice", "Bob", "carol"]);
        assert_eq!(sorted_names(scim, "sortBy=userName&sortOrder=ascending").await, vec!["alice", "Bob", "carol"]);
        assert_eq!(sorted_names(scim, "sortBy=userName&sortOrder=descending").await, vec!["carol", "Bob", "alice"]);
        assert_eq!(sorted_names(scim, "SORTBY=USERNAME&sortorder=DESCENDING").await, vec!["carol", "Bob", "alice"]);
        assert_eq!(sorted_names(scim, "sortBy=name.familyName").await, vec!["carol", "alice", "Bob"]);
        assert_eq!(sorted_names(scim, "sortBy=meta.created&sortOrder=descending").await, vec!["carol", "Bob", "alice"]);
        assert_eq!(
            sorted_names(scim, "sortBy=externalId").await,
            vec!["alice", "Bob", "carol"],
            "externalId is caseExact: EXT-A sorts before ext-b"
        );
        // Missing values last when ascending, first when descending.
        let asc = sorted_names(scim, "sortBy=title").await;
        assert_eq!(asc[0], "alice");
        let desc = sorted_names(scim, "sortBy=title&sortOrder=descending").await;
        assert_eq!(desc[2], "alice");
        // Multi-valued: by the primary (or first) value.
        let by_email = sorted_names(scim, "sortBy=emails.value").await;
        assert_eq!(by_email, vec!["alice", "Bob", "carol"]);
        // Sort combined with a filter and paging.
        let r = scim
            .get(&format!(
                "/Users?filter={}&sortBy=userName&sortOrder=descending&startIndex=2&count=1",
                enc("active eq true")
            ))
            .await;
        expect_list(&r, 2, 2, 1);
        assert_eq!(strings(&r, "userName"), vec!["alice"]);
    })
    .await;
}

#[tokio::test]
async fn bad_sort_parameters_are_400_invalid_value() {
    each_backend(|app| async move {
        fixture(&app).await;
        let scim = &app.scim;
        scim.get("/Users?sortBy=noSuchAttribute").await.expect_error(400, Some("invalidValue"));
        scim.get("/Users?sortBy=userName&sortOrder=sideways").await.expect_error(400, Some("invalidValue"));
        scim.post("/Users/.search", &json!({"sortBy": "password"})).await.expect_error(400, Some("invalidValue"));
    })
    .await;
}

#[tokio::test]
async fn filters_never_see_other_attributes_than_the_stored_ones_after_updates() {
    each_backend(|app| async move {
        let fx = fixture(&app).await;
        let scim = &app.scim;
        // Change alice's email and title: the old values no longer match, the new ones do.
        scim.patch_ops(
            &format!("/Users/{}", fx.alice),
            json!([
                {"op": "replace", "path": "emails", "value": [{"value": "alice@new.example", "type": "work"}]},
                {"op": "remove", "path": "title"}
            ]),
        )
        .await
        .expect(200);
        assert!(matches(scim, "emails.value eq \"alice@example.com\"").await.is_empty());
        assert_eq!(matches(scim, "emails.value eq \"alice@new.example\"").await, vec!["alice"]);
        assert!(matches(scim, "title pr").await.is_empty());
    })
    .await;
}
