//! Contention (issue 10, item 2), beyond `concurrency` (parallel adds of distinct members,
//! parallel attribute adds, create races, one If-Match version raced by many): many clients
//! patching the same group and the same user at once with mixed operations — adds and
//! removes, PUT against PATCH, read-modify-write loops with `If-Match` — lose no update,
//! never deadlock (every round is bounded in time), never answer 5xx, and every `If-Match`
//! conflict is a 412 that the client can retry.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::future::join_all;
use roster_testkit::body::{GROUP, PATCH_OP};
use roster_testkit::{Resp, ScimClient, each_backend};
use serde_json::{Value, json};

use crate::support::member_ids;

/// Fails the test instead of hanging when the server deadlocks.
async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer in 120 s (deadlock?)"))
}

#[track_caller]
fn no_5xx(responses: &[Resp]) {
    for r in responses {
        assert!(r.status < 500, "{}: {}", r.status, r.text);
    }
}

async fn if_match_patch(scim: &ScimClient, path: &str, etag: &str, ops: Value) -> Resp {
    ScimClient::send(
        scim.request(reqwest::Method::PATCH, path)
            .header("Content-Type", "application/scim+json")
            .header("If-Match", etag)
            .body(json!({"schemas": [PATCH_OP], "Operations": ops}).to_string()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adds_and_removes_on_one_group_leave_exactly_the_expected_members() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let mut keep = Vec::new();
        let mut leave = Vec::new();
        let mut join = Vec::new();
        for i in 0..15 {
            keep.push(scim.create_user(&format!("keep{i}@x.io"), json!({})).await);
            leave.push(scim.create_user(&format!("drop{i}@x.io"), json!({})).await);
            join.push(scim.create_user(&format!("join{i}@x.io"), json!({})).await);
        }
        let start: Vec<&str> = keep.iter().chain(&leave).map(String::as_str).collect();
        let gid = scim.create_group("Churn", &start).await;
        let path = format!("/Groups/{gid}");
        // 45 clients at once: 15 remove one member each (by filter), 15 add one, and 15 add a
        // member that is already there (no change, but a write attempt on the same row).
        let removes = leave.iter().map(|u| {
            let (scim, path, u) = (scim.clone(), path.clone(), u.clone());
            async move {
                scim.patch_ops(&path, json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}])).await
            }
        });
        let adds =
            join.iter().map(|u| {
                let (scim, path, u) = (scim.clone(), path.clone(), u.clone());
                async move {
                    scim.patch_ops(&path, json!([{"op": "add", "path": "members", "value": [{"value": u}]}])).await
                }
            });
        let readds =
            keep.iter().map(|u| {
                let (scim, path, u) = (scim.clone(), path.clone(), u.clone());
                async move {
                    scim.patch_ops(&path, json!([{"op": "add", "path": "members", "value": [{"value": u}]}])).await
                }
            });
        let (r1, r2, r3) = bounded("mixed member patches", async {
            tokio::join!(join_all(removes), join_all(adds), join_all(readds))
        })
        .await;
        for r in r1.iter().chain(&r2).chain(&r3) {
            assert!(r.status == 200 || r.status == 204, "{}: {}", r.status, r.text);
        }
        let got = scim.get(&path).await;
        let expected: BTreeSet<String> = keep.iter().chain(&join).cloned().collect();
        assert_eq!(member_ids(&got.body).into_iter().collect::<BTreeSet<_>>(), expected);
        // 30 changes on top of the create; re-adding a member changes nothing.
        let version: u64 =
            got.header("etag").unwrap().trim_start_matches("W/\"").trim_end_matches('"').parse().unwrap();
        assert_eq!(version, 31, "{}", got.text);
        // Every user's groups agree with the group.
        for u in leave.iter().take(3) {
            assert!(
                scim.get(&format!("/Users/{u}"))
                    .await
                    .body
                    .get("groups")
                    .is_none_or(|g| g.as_array().unwrap().is_empty())
            );
        }
        for u in join.iter().take(3) {
            assert_eq!(scim.get(&format!("/Users/{u}")).await.body["groups"][0]["value"], gid.as_str());
        }
    })
    .await;
}

/// One client's read-modify-write loop: read the counter and the ETag, write counter + 1
/// with If-Match, retry on 412. Returns (increments done, 412s seen).
async fn increment(scim: ScimClient, path: String, attribute: &'static str, times: usize) -> (usize, usize) {
    let mut conflicts = 0;
    for _ in 0..times {
        loop {
            let current = scim.get(&path).await;
            assert_eq!(current.status, 200, "{}", current.text);
            let etag = current.header("etag").unwrap().to_string();
            let n: u64 = current.body[attribute].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
            let r = if_match_patch(
                &scim,
                &path,
                &etag,
                json!([{"op": "replace", "path": attribute, "value": (n + 1).to_string()}]),
            )
            .await;
            match r.status {
                200 | 204 => break,
                412 => {
                    r.expect_error(412, None);
                    conflicts += 1;
                }
                other => panic!("{other}: {}", r.text),
            }
        }
    }
    (times, conflicts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_modify_write_loops_with_if_match_lose_no_increment_on_a_user_and_a_group() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let user = scim.create_user("counter@x.io", json!({"nickName": "0"})).await;
        let group =
            scim.post("/Groups", &json!({"schemas": [GROUP], "displayName": "Counter", "externalId": "0"})).await.id();
        const CLIENTS: usize = 8;
        const TIMES: usize = 5;
        let user_path = format!("/Users/{user}");
        let group_path = format!("/Groups/{group}");
        let loops = (0..CLIENTS).flat_map(|_| {
            [
                increment(scim.clone(), user_path.clone(), "nickName", TIMES),
                increment(scim.clone(), group_path.clone(), "externalId", TIMES),
            ]
        });
        let outcomes = bounded("If-Match increments", join_all(loops)).await;
        let conflicts: usize = outcomes.iter().map(|o| o.1).sum();
        let u = scim.get(&user_path).await;
        let g = scim.get(&group_path).await;
        assert_eq!(u.body["nickName"], (CLIENTS * TIMES).to_string(), "{}", u.text);
        assert_eq!(g.body["externalId"], (CLIENTS * TIMES).to_string(), "{}", g.text);
        assert_eq!(u.header("etag"), Some(format!("W/\"{}\"", CLIENTS * TIMES + 1).as_str()));
        assert_eq!(g.header("etag"), Some(format!("W/\"{}\"", CLIENTS * TIMES + 1).as_str()));
        // With eight clients on one resource some writes must have been refused and retried.
        assert!(conflicts > 0, "no If-Match conflict at all: the race did not happen");
        println!(
            "{:?}: {} increments on 2 resources, {conflicts} 412s retried, none lost",
            app.backend,
            2 * CLIENTS * TIMES
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn puts_and_patches_racing_on_one_group_and_its_members_never_fail_or_deadlock() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let mut users = Vec::new();
        for i in 0..12 {
            users.push(scim.create_user(&format!("race{i}@x.io"), json!({})).await);
        }
        let g1 = scim.create_group("Alpha", &[]).await;
        let g2 = scim.create_group("Beta", &[]).await;
        // At once: PUTs replacing Alpha's whole member list, PATCHes adding to Alpha and Beta
        // (in opposite orders of users), PATCHes of the users themselves, and reads.
        let mut work: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Resp> + Send>>> = Vec::new();
        for i in 0..12 {
            let s = scim.clone();
            let (a, b) = (users[i].clone(), users[11 - i].clone());
            let (p1, p2) = (format!("/Groups/{g1}"), format!("/Groups/{g2}"));
            work.push(Box::pin(async move {
                s.patch_ops(&p1, json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}])).await
            }));
            let s = scim.clone();
            let (a, b) = (users[11 - i].clone(), users[i].clone());
            work.push(Box::pin(async move {
                s.patch_ops(&p2, json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}])).await
            }));
            let s = scim.clone();
            let u = users[i].clone();
            work.push(Box::pin(async move {
                s.patch_ops(
                    &format!("/Users/{u}"),
                    json!([{"op": "replace", "path": "displayName", "value": format!("User {i}")}]),
                )
                .await
            }));
            if i % 3 == 0 {
                let s = scim.clone();
                let p = format!("/Groups/{g1}");
                let members: Vec<Value> = users[..i].iter().map(|u| json!({"value": u})).collect();
                work.push(Box::pin(async move {
                    s.put(&p, &json!({"schemas": [GROUP], "displayName": "Alpha", "members": members})).await
                }));
            }
            let s = scim.clone();
            let p = format!("/Groups/{g2}");
            work.push(Box::pin(async move { s.get(&p).await }));
        }
        let total = work.len();
        let responses = bounded("PUT/PATCH race", join_all(work)).await;
        no_5xx(&responses);
        for r in &responses {
            assert!(matches!(r.status, 200 | 204), "{}: {}", r.status, r.text);
        }
        // Beta got every add (nothing replaced it); Alpha holds only real users; both are
        // consistent with their members' `groups`.
        let beta = scim.get(&format!("/Groups/{g2}")).await;
        let mut all = users.clone();
        all.sort();
        assert_eq!(member_ids(&beta.body), all);
        let alpha = scim.get(&format!("/Groups/{g1}")).await;
        for m in member_ids(&alpha.body) {
            assert!(users.contains(&m));
            let u = scim.get(&format!("/Users/{m}")).await;
            let groups: Vec<&str> =
                u.body["groups"].as_array().unwrap().iter().map(|g| g["value"].as_str().unwrap()).collect();
            assert!(groups.contains(&g1.as_str()) && groups.contains(&g2.as_str()), "{}", u.text);
        }
        for (i, u) in users.iter().enumerate() {
            assert_eq!(scim.get(&format!("/Users/{u}")).await.body["displayName"], format!("User {i}"));
        }
        println!("{:?}: {total} racing requests on 2 groups and 12 users, no 5xx, no deadlock", app.backend);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_racing_if_match_writes_let_one_through_per_version() {
    each_backend(|app| async move {
        let second = app.second_instance().await;
        let user = app.scim.create_user("twin@x.io", json!({"nickName": "0"})).await;
        let path = format!("/Users/{user}");
        // Both instances hold the same ETag and write with it at once, ten rounds.
        for round in 1..=10u64 {
            let etag = format!("W/\"{round}\"");
            let a = if_match_patch(
                &app.scim,
                &path,
                &etag,
                json!([{"op": "replace", "path": "nickName", "value": format!("a{round}")}]),
            );
            let b = if_match_patch(
                &second.scim,
                &path,
                &etag,
                json!([{"op": "replace", "path": "nickName", "value": format!("b{round}")}]),
            );
            let (a, b) = bounded("two instances", async { tokio::join!(a, b) }).await;
            let mut statuses = [a.status, b.status];
            statuses.sort();
            assert_eq!(statuses, [200, 412], "round {round}: {} / {}", a.text, b.text);
        }
        let got = app.scim.get(&path).await;
        assert_eq!(got.header("etag"), Some("W/\"11\""));
        second.stop().await;
    })
    .await;
}
