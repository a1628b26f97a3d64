//! roster-store's one integration-test binary: the storage conformance suite (every
//! [`roster_core::Store`] method, on SQLite always and on PostgreSQL when
//! `ROSTER_TEST_POSTGRES_URL` is set), the migration parity check, and the differential
//! property test that holds the SQL filter compiler to the protocol core's in-memory
//! evaluator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Declares each listed `async fn(SqlStore)` as one test per backend, each on a fresh
/// database (`sqlite::name`, `postgres::name`).
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::common::run(crate::common::Backend::Sqlite, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::common::run(crate::common::Backend::Postgres, super::$name).await;
                }
            )*
        }
    };
}

mod accounts;
mod common;
mod custom;
mod differential;
mod members;
mod migrations;
mod query;
mod resources;
mod tenants;
mod tokens;
