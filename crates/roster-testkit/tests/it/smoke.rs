//! The first conversation an IdP has with Roster.

use roster_testkit::{body, each_backend};
use serde_json::json;

#[tokio::test]
async fn create_find_deactivate_and_delete_a_user() {
    each_backend(|app| async move {
        let scim = &app.scim;
        let created = scim.post("/Users", &body::user("bjensen@example.com")).await;
        created.expect(201);
        let id = created.id();
        assert_eq!(created.header("location").unwrap(), format!("{}/Users/{id}", scim.base));
        assert_eq!(created.header("etag"), Some("W/\"1\""));

        let found = scim.get("/Users?filter=userName%20eq%20%22BJENSEN@example.com%22").await;
        found.expect(200);
        assert_eq!(found.body["totalResults"], 1);
        assert_eq!(found.body["Resources"][0]["id"], id.as_str());

        let patched = scim
            .patch_ops(&format!("/Users/{id}"), json!([{"op": "Replace", "path": "active", "value": "False"}]))
            .await;
        patched.expect(200);
        assert_eq!(patched.body["active"], false);
        assert_eq!(patched.header("etag"), Some("W/\"2\""));

        scim.delete(&format!("/Users/{id}")).await.expect(204);
        scim.get(&format!("/Users/{id}")).await.expect_error(404, None);
        scim.delete(&format!("/Users/{id}")).await.expect_error(404, None);
    })
    .await;
}
