//! /Groups: membership as its own relation (User.groups derived from it), displayName
//! unique per tenant, unknown member ids skipped or refused per tenant, and PATCH answered
//! with 200 + the group or, per tenant, 204.

use roster_core::TenantSettings;
use roster_core::model::{GroupPatchResponse, UnknownMembers};
use roster_testkit::body::{self, GROUP};
use roster_testkit::{each_backend, each_backend_with};
use serde_json::json;

use crate::support::{filter, member_ids};

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn create_group_with_members_links_both_ways() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let u1 = scim.create_user("u1@x.io", json!({"displayName": "User One"})).await;
        let u2 = scim.create_user("u2@x.io", json!({})).await;
        let r = scim
            .post(
                "/Groups",
                &json!({
                    "schemas": [GROUP],
                    "displayName": "Tour Guides",
                    "externalId": "g-ext",
                    "members": [{"value": u1, "display": "ignored"}, {"value": u2, "type": "User"}]
                }),
            )
            .await;
        r.expect(201);
        let gid = r.id();
        assert_eq!(r.header("location"), Some(format!("{}/Groups/{gid}", scim.base).as_str()));
        assert_eq!(r.body["meta"]["resourceType"], "Group");
        assert_eq!(r.body["externalId"], "g-ext");
        assert_eq!(member_ids(&r.body), sorted(vec![u1.clone(), u2.clone()]));
        let m1 = r.body["members"].as_array().unwrap().iter().find(|m| m["value"] == u1.as_str()).unwrap().clone();
        assert_eq!(m1["type"], "User");
        assert_eq!(m1["display"], "User One");
        assert_eq!(m1["$ref"], format!("{}/Users/{u1}", scim.base).as_str());

        let user = scim.get(&format!("/Users/{u1}")).await;
        let groups = user.body["groups"].as_array().expect("groups").clone();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0]["value"], gid.as_str());
        assert_eq!(groups[0]["display"], "Tour Guides");
        assert_eq!(groups[0]["type"], "direct");
        assert_eq!(groups[0]["$ref"], format!("{}/Groups/{gid}", scim.base).as_str());

        let by_member = filter(scim, "/Groups", &format!("members.value eq \"{u2}\"")).await;
        assert_eq!(by_member.body["totalResults"], 1, "{}", by_member.text);
        let by_group = filter(scim, "/Users", &format!("groups.value eq \"{gid}\"")).await;
        assert_eq!(by_group.body["totalResults"], 2, "{}", by_group.text);
    })
    .await;
}

#[tokio::test]
async fn group_without_display_name_is_400_invalid_value() {
    each_backend(|app| async move {
        let scim = &app.scim;
        scim.post("/Groups", &json!({"schemas": [GROUP]})).await.expect_error(400, Some("invalidValue"));
        scim.post("/Groups", &json!({"schemas": [GROUP], "displayName": ""}))
            .await
            .expect_error(400, Some("invalidValue"));
        assert_eq!(scim.get("/Groups").await.body["totalResults"], 0);
    })
    .await;
}

#[tokio::test]
async fn duplicate_group_display_name_in_any_case_is_409_on_post_put_and_patch() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let sales = scim.create_group("Sales", &[]).await;
        let ops = scim.create_group("Ops", &[]).await;
        scim.post("/Groups", &body::group("sales")).await.expect_error(409, Some("uniqueness"));
        scim.put(&format!("/Groups/{ops}"), &body::group("SALES")).await.expect_error(409, Some("uniqueness"));
        scim.patch_ops(&format!("/Groups/{ops}"), json!([{"op": "replace", "path": "displayName", "value": "sAlEs"}]))
            .await
            .expect_error(409, Some("uniqueness"));
        let got = scim.get(&format!("/Groups/{ops}")).await;
        assert_eq!(got.body["displayName"], "Ops");
        assert_eq!(got.header("etag"), Some("W/\"1\""));
        assert_eq!(scim.get("/Groups").await.body["totalResults"], 2);

        // Renaming a group to its own name in another case is fine.
        let r = scim
            .patch_ops(&format!("/Groups/{sales}"), json!([{"op": "replace", "path": "displayName", "value": "SALES"}]))
            .await;
        r.expect(200);
        assert_eq!(r.body["displayName"], "SALES");
    })
    .await;
}

#[tokio::test]
async fn okta_style_rename_with_the_same_id_in_the_value_is_accepted() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let gid = scim.create_group("Old", &[]).await;
        let r = scim
            .patch_ops(
                &format!("/Groups/{gid}"),
                json!([{"op": "replace", "value": {"id": gid, "displayName": "New"}}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["displayName"], "New");
        scim.patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "replace", "value": {"id": "another", "displayName": "Newer"}}]),
        )
        .await
        .expect_error(400, Some("mutability"));
        assert_eq!(scim.get(&format!("/Groups/{gid}")).await.body["displayName"], "New");
    })
    .await;
}

#[tokio::test]
async fn unknown_member_ids_are_skipped_by_default_and_reported() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let u1 = scim.create_user("known@x.io", json!({})).await;
        let r = scim
            .post(
                "/Groups",
                &json!({"schemas": [GROUP], "displayName": "G", "members": [{"value": u1}, {"value": "no-such-id"}]}),
            )
            .await;
        r.expect(201);
        let gid = r.id();
        assert_eq!(member_ids(&r.body), vec![u1.clone()]);

        let p = scim
            .patch_ops(
                &format!("/Groups/{gid}"),
                json!([{"op": "add", "path": "members", "value": [{"value": "still-unknown"}]}]),
            )
            .await;
        p.expect(200);
        assert_eq!(member_ids(&p.body), vec![u1.clone()]);
        assert_eq!(p.header("etag"), Some("W/\"1\""), "nothing changed");

        // The skipped ids are reported to the caller of the service (for the provisioning log).
        let ctx =
            app.core.authenticate("default", Some(&format!("Bearer {}", app.token)), scim.base.clone()).await.unwrap();
        let out = app
            .core
            .create(
                &ctx,
                roster_scim::ResourceKind::Group,
                &json!({"displayName": "H", "members": [{"value": u1}, {"value": "ghost-1"}]}),
                &Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(out.report.members.unknown, vec!["ghost-1".to_string()]);
        assert_eq!(out.report.members.added, 1);
    })
    .await;
}

#[tokio::test]
async fn unknown_member_ids_are_400_invalid_value_when_the_tenant_rejects_them() {
    let settings = TenantSettings { unknown_members: UnknownMembers::Reject, ..TenantSettings::default() };
    each_backend_with(settings, |app| async move {
        let scim = &app.scim;
        let u1 = scim.create_user("known@x.io", json!({})).await;
        let r = scim
            .post(
                "/Groups",
                &json!({"schemas": [GROUP], "displayName": "G", "members": [{"value": u1}, {"value": "no-such-id"}]}),
            )
            .await;
        r.expect_error(400, Some("invalidValue"));
        assert!(r.body["detail"].as_str().unwrap().contains("no-such-id"), "{}", r.text);
        assert_eq!(scim.get("/Groups").await.body["totalResults"], 0);

        let gid = scim.create_group("G", &[&u1]).await;
        let path = format!("/Groups/{gid}");
        scim.patch_ops(&path, json!([{"op": "add", "path": "members", "value": [{"value": "ghost"}]}]))
            .await
            .expect_error(400, Some("invalidValue"));
        scim.put(&path, &json!({"schemas": [GROUP], "displayName": "G2", "members": [{"value": "ghost"}]}))
            .await
            .expect_error(400, Some("invalidValue"));
        let got = scim.get(&path).await;
        assert_eq!(got.body["displayName"], "G");
        assert_eq!(member_ids(&got.body), vec![u1]);
        assert_eq!(got.header("etag"), Some("W/\"1\""));
    })
    .await;
}

#[tokio::test]
async fn patch_members_add_is_idempotent_and_remove_forms_remove_only_their_targets() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let mut users = Vec::new();
        for i in 0..4 {
            users.push(scim.create_user(&format!("m{i}@x.io"), json!({})).await);
        }
        let gid = scim.create_group("Team", &[&users[0]]).await;
        let path = format!("/Groups/{gid}");

        // Entra-style add (with $ref null), then the same add again: one member, no bump.
        let add = json!([{"op": "Add", "path": "members", "value": [
            {"$ref": null, "value": users[1]}, {"value": users[2]}, {"value": users[3]}
        ]}]);
        let r = scim.patch_ops(&path, add.clone()).await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), sorted(users.clone()));
        let version = r.header("etag").unwrap().to_string();
        let again = scim.patch_ops(&path, add).await;
        again.expect(200);
        assert_eq!(again.header("etag"), Some(version.as_str()));
        assert_eq!(again.body["members"].as_array().unwrap().len(), 4);

        // Okta: remove by filter.
        let r = scim
            .patch_ops(&path, json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[0])}]))
            .await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), sorted(users[1..].to_vec()));

        // Entra legacy: path "members" with a value list removes only those (F-4).
        let r =
            scim.patch_ops(&path, json!([{"op": "Remove", "path": "members", "value": [{"value": users[1]}]}])).await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), sorted(users[2..].to_vec()));

        // Removing an absent member is a no-op.
        let before = r.header("etag").unwrap().to_string();
        let r = scim.patch_ops(&path, json!([{"op": "remove", "path": "members[value eq \"nonexistent\"]"}])).await;
        r.expect(200);
        assert_eq!(r.header("etag"), Some(before.as_str()));

        // Okta push of an empty group: replace with [] clears.
        let r = scim.patch_ops(&path, json!([{"op": "replace", "path": "members", "value": []}])).await;
        r.expect(200);
        assert!(r.body.get("members").is_none(), "{}", r.text);
        for u in &users {
            let got = scim.get(&format!("/Users/{u}")).await;
            assert!(got.body.get("groups").is_none(), "{}", got.text);
        }
    })
    .await;
}

#[tokio::test]
async fn remove_all_members_then_add_in_one_request_is_applied_in_order() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let a = scim.create_user("a@x.io", json!({})).await;
        let b = scim.create_user("b@x.io", json!({})).await;
        let gid = scim.create_group("Seq", &[&a]).await;
        let r = scim
            .patch_ops(
                &format!("/Groups/{gid}"),
                json!([
                    {"op": "remove", "path": "members"},
                    {"op": "add", "path": "members", "value": [{"value": b}]}
                ]),
            )
            .await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), vec![b]);
    })
    .await;
}

#[tokio::test]
async fn put_replaces_the_member_list() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let a = scim.create_user("a@x.io", json!({})).await;
        let b = scim.create_user("b@x.io", json!({})).await;
        let gid = scim.create_group("Put", &[&a]).await;
        let r = scim
            .put(
                &format!("/Groups/{gid}"),
                &json!({"schemas": [GROUP], "id": gid, "displayName": "Put", "members": [{"value": b}]}),
            )
            .await;
        r.expect(200);
        assert_eq!(member_ids(&r.body), vec![b.clone()]);
        assert!(scim.get(&format!("/Users/{a}")).await.body.get("groups").is_none());
        assert_eq!(scim.get(&format!("/Users/{b}")).await.body["groups"][0]["value"], gid.as_str());
        scim.put("/Groups/missing", &body::group("Missing")).await.expect_error(404, None);
        assert_eq!(scim.get("/Groups").await.body["totalResults"], 1);
    })
    .await;
}

#[tokio::test]
async fn nested_group_members_are_refused_unless_enabled() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let inner = scim.create_group("Inner", &[]).await;
        scim.post("/Groups", &json!({"schemas": [GROUP], "displayName": "Outer", "members": [{"value": inner}]}))
            .await
            .expect_error(400, Some("invalidValue"));
        let outer = scim.create_group("Outer", &[]).await;
        scim.patch_ops(
            &format!("/Groups/{outer}"),
            json!([{"op": "add", "path": "members", "value": [{"value": inner, "type": "Group"}]}]),
        )
        .await
        .expect_error(400, Some("invalidValue"));
        assert!(scim.get(&format!("/Groups/{outer}")).await.body.get("members").is_none());
    })
    .await;
}

#[tokio::test]
async fn deleting_a_user_removes_it_from_its_groups() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let a = scim.create_user("a@x.io", json!({})).await;
        let b = scim.create_user("b@x.io", json!({})).await;
        let g1 = scim.create_group("G1", &[&a, &b]).await;
        let g2 = scim.create_group("G2", &[&a]).await;
        scim.delete(&format!("/Users/{a}")).await.expect(204);
        let got1 = scim.get(&format!("/Groups/{g1}")).await;
        assert_eq!(member_ids(&got1.body), vec![b.clone()]);
        assert_eq!(got1.header("etag"), Some("W/\"2\""), "the group changed");
        let got2 = scim.get(&format!("/Groups/{g2}")).await;
        assert!(got2.body.get("members").is_none(), "{}", got2.text);
        let by_member = filter(scim, "/Groups", &format!("members.value eq \"{a}\"")).await;
        assert_eq!(by_member.body["totalResults"], 0);
    })
    .await;
}

#[tokio::test]
async fn deleting_a_group_removes_it_from_users_groups() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let a = scim.create_user("a@x.io", json!({})).await;
        let g1 = scim.create_group("G1", &[&a]).await;
        let g2 = scim.create_group("G2", &[&a]).await;
        scim.delete(&format!("/Groups/{g1}")).await.expect(204);
        scim.get(&format!("/Groups/{g1}")).await.expect_error(404, None);
        let user = scim.get(&format!("/Users/{a}")).await;
        let groups: Vec<&str> =
            user.body["groups"].as_array().unwrap().iter().map(|g| g["value"].as_str().unwrap()).collect();
        assert_eq!(groups, vec![g2.as_str()]);
        // The name is free again.
        scim.create_group("g1", &[]).await;
    })
    .await;
}

#[tokio::test]
async fn group_patch_answers_204_when_the_tenant_asks_for_no_content() {
    let settings = TenantSettings { group_patch_response: GroupPatchResponse::NoContent, ..TenantSettings::default() };
    each_backend_with(settings, |app| async move {
        let scim = &app.scim;
        let u = scim.create_user("a@x.io", json!({})).await;
        let gid = scim.create_group("G", &[]).await;
        let path = format!("/Groups/{gid}");
        let r = scim
            .patch_ops(
                &path,
                json!([{"op": "add", "path": "members", "value": [{"value": u}]}]),
            )
            .await;
        r.expect(204);
        assert!(r.text.is_empty());
        assert_eq!(r.header("etag"), Some("W/\"2\""));
        assert_eq!(member_ids(&scim.get(&path).await.body), vec![u.clone()]);

        // With attributes asked for, the body is required (RFC 7644 §3.5.2).
        let r = scim
            .patch(
                &format!("{path}?attributes=displayName"),
                &json!({"schemas": [body::PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "G2"}]}),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["displayName"], "G2");
        assert!(r.body.get("members").is_none());

        // Users are unaffected by the group setting.
        let r = scim
            .patch_ops(
                &format!("/Users/{u}"),
                json!([{"op": "replace", "path": "nickName", "value": "n"}]),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["nickName"], "n");
    })
    .await;
}

#[tokio::test]
async fn group_patch_answers_200_with_the_group_by_default() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let gid = scim.create_group("G", &[]).await;
        let r = scim
            .patch_ops(&format!("/Groups/{gid}"), json!([{"op": "replace", "path": "displayName", "value": "G2"}]))
            .await;
        r.expect(200);
        assert_eq!(r.body["id"], gid.as_str());
        assert_eq!(r.body["displayName"], "G2");
        assert_eq!(r.header("etag"), Some("W/\"2\""));
    })
    .await;
}
