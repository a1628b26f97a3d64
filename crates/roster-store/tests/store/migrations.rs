//! DESIGN §3: both backends define the same migration versions.

use roster_store::{Backend, migration_versions};

#[test]
fn sqlite_and_postgres_migrations_have_identical_version_lists() {
    let sqlite = migration_versions(Backend::Sqlite);
    let postgres = migration_versions(Backend::Postgres);
    assert!(!sqlite.is_empty(), "no migrations embedded");
    assert_eq!(sqlite, postgres);
    let versions: Vec<i64> = sqlite.iter().map(|(v, _)| *v).collect();
    let mut sorted = versions.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(versions, sorted, "versions are unique and ascending");
}

/// `ready` reports pending migrations; `migrate` applies them (on each backend).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_fails_until_migrations_are_applied() {
    use roster_core::Store;

    for backend in crate::common::backends() {
        let mut db = crate::common::TestDb::new(backend);
        db.options.migrate = false;
        let store = db.connect().await;
        assert!(store.ready().await.is_err(), "{backend:?}: an empty database is not ready");
        store.migrate().await.unwrap();
        store.ready().await.unwrap();
        // Migrating again is a no-op.
        store.migrate().await.unwrap();
        store.close().await;
        db.cleanup().await;
    }
}
