//! Concurrent writers: no lost updates (each write runs on the current row inside one
//! transaction), and uniqueness holds under races.

use futures_util::future::join_all;
use roster_testkit::body::{self, GROUP};
use roster_testkit::{ScimClient, each_backend};
use serde_json::json;

use crate::support::member_ids;

const PARALLEL: usize = 40;

#[tokio::test]
async fn parallel_patches_adding_different_members_to_one_group_lose_none() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let mut users = Vec::with_capacity(PARALLEL);
        for i in 0..PARALLEL {
            users.push(scim.create_user(&format!("p{i:02}@x.io"), json!({})).await);
        }
        let gid = scim.create_group("Crowd", &[]).await;
        let path = format!("/Groups/{gid}");
        let responses =
            join_all(users.iter().map(|u| {
                let scim = scim.clone();
                let path = path.clone();
                let u = u.clone();
                async move {
                    scim.patch_ops(&path, json!([{"op": "add", "path": "members", "value": [{"value": u}]}])).await
                }
            }))
            .await;
        for r in &responses {
            r.expect(200);
        }
        let group = scim.get(&path).await;
        let mut expected = users.clone();
        expected.sort();
        assert_eq!(member_ids(&group.body), expected);
        // Every add was one change of the group.
        assert_eq!(group.header("etag"), Some(format!("W/\"{}\"", PARALLEL + 1).as_str()));
        // And every user sees the group.
        for u in users.iter().take(3) {
            let got = scim.get(&format!("/Users/{u}")).await;
            assert_eq!(got.body["groups"][0]["value"], gid.as_str());
        }
    })
    .await;
}

#[tokio::test]
async fn parallel_attribute_patches_to_one_user_all_apply() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("busy@x.io", json!({})).await;
        let path = format!("/Users/{id}");
        let responses = join_all((0..20).map(|i| {
            let scim = scim.clone();
            let path = path.clone();
            async move {
                scim.patch_ops(
                    &path,
                    json!([{"op": "add", "path": "emails", "value": [{"value": format!("e{i}@x.io"), "type": "other"}]}]),
                )
                .await
            }
        }))
        .await;
        for r in &responses {
            r.expect(200);
        }
        let got = scim.get(&path).await;
        assert_eq!(got.body["emails"].as_array().unwrap().len(), 20, "{}", got.text);
        assert_eq!(got.header("etag"), Some("W/\"21\""));
    })
    .await;
}

#[tokio::test]
async fn two_parallel_creates_of_one_user_name_give_one_201_and_one_409() {
    each_backend(|app| async move {
        let scim = &app.scim;
        for round in 0..10 {
            let name = format!("race{round}@x.io");
            let (first, second) = (body::user(&name), body::user(&name.to_uppercase()));
            let (a, b) = tokio::join!(scim.post("/Users", &first), scim.post("/Users", &second));
            let mut statuses = [a.status, b.status];
            statuses.sort();
            assert_eq!(statuses, [201, 409], "round {round}: {} / {}", a.text, b.text);
            let loser = if a.status == 409 { &a } else { &b };
            loser.expect_error(409, Some("uniqueness"));
        }
        assert_eq!(scim.get("/Users").await.body["totalResults"], 10);
    })
    .await;
}

#[tokio::test]
async fn many_parallel_creates_of_one_group_name_give_exactly_one_201() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let responses = join_all((0..20).map(|i| {
            let scim = scim.clone();
            let name = if i % 2 == 0 { "Race" } else { "RACE" };
            async move { scim.post("/Groups", &json!({"schemas": [GROUP], "displayName": name})).await }
        }))
        .await;
        let created = responses.iter().filter(|r| r.status == 201).count();
        assert_eq!(created, 1);
        for r in responses.iter().filter(|r| r.status != 201) {
            r.expect_error(409, Some("uniqueness"));
        }
        assert_eq!(scim.get("/Groups").await.body["totalResults"], 1);
    })
    .await;
}

#[tokio::test]
async fn parallel_conditional_writes_with_one_version_let_exactly_one_through() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let id = scim.create_user("cas@x.io", json!({})).await;
        let path = format!("/Users/{id}");
        let responses = join_all((0..20).map(|i| {
            let scim = scim.clone();
            let path = path.clone();
            async move {
                ScimClient::send(
                    scim.request(reqwest::Method::PATCH, &path)
                        .header("Content-Type", "application/scim+json")
                        .header("If-Match", "W/\"1\"")
                        .body(
                            json!({"schemas": [body::PATCH_OP], "Operations": [
                                {"op": "replace", "path": "nickName", "value": format!("n{i}")}
                            ]})
                            .to_string(),
                        ),
                )
                .await
            }
        }))
        .await;
        let winners: Vec<_> = responses.iter().filter(|r| r.status == 200).collect();
        assert_eq!(winners.len(), 1);
        for r in responses.iter().filter(|r| r.status != 200) {
            r.expect_error(412, None);
        }
        let got = scim.get(&path).await;
        assert_eq!(got.header("etag"), Some("W/\"2\""));
        assert_eq!(got.body["nickName"], winners[0].body["nickName"]);
    })
    .await;
}

#[tokio::test]
async fn deleting_a_user_while_it_is_being_added_to_groups_leaves_no_dangling_member() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let mut groups = Vec::new();
        for i in 0..10 {
            groups.push(scim.create_group(&format!("G{i}"), &[]).await);
        }
        let keeper = scim.create_user("keeper@x.io", json!({})).await;
        for round in 0..5 {
            let victim = scim.create_user(&format!("victim{round}@x.io"), json!({})).await;
            // In odd rounds the victim is already in half the groups: re-adding an existing
            // member while it is deleted must not deadlock either.
            if round % 2 == 1 {
                for g in &groups[..5] {
                    scim.patch_ops(
                        &format!("/Groups/{g}"),
                        json!([{"op": "add", "path": "members", "value": [{"value": victim}]}]),
                    )
                    .await
                    .expect(200);
                }
            }
            // Each group gets the victim (racing its delete) and, in the same request, a keeper.
            let adds = join_all(groups.iter().map(|g| {
                let scim = scim.clone();
                let path = format!("/Groups/{g}");
                let (victim, keeper) = (victim.clone(), keeper.clone());
                async move {
                    scim.patch_ops(
                        &path,
                        json!([{"op": "add", "path": "members", "value": [{"value": victim}, {"value": keeper}]}]),
                    )
                    .await
                }
            }));
            let victim_path = format!("/Users/{victim}");
            let delete = scim.delete(&victim_path);
            let (adds, deleted) = tokio::join!(adds, delete);
            deleted.expect(204);
            for r in &adds {
                r.expect(200);
            }
            for g in &groups {
                let got = scim.get(&format!("/Groups/{g}")).await;
                assert_eq!(member_ids(&got.body), vec![keeper.clone()], "round {round}: {}", got.text);
            }
        }
    })
    .await;
}
