//! The one integration-test binary: every HTTP-level test, against the real app on
//! 127.0.0.1:0, on SQLite and (with ROSTER_TEST_POSTGRES_URL) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_api;
mod attributes;
mod audit;
mod auth;
mod bad_input;
mod bulk;
mod compat;
mod concurrency;
mod contention;
mod discovery;
mod errors;
mod etags;
mod events;
mod filters;
mod groups;
mod idp_adversarial;
mod idp_entra;
mod idp_okta;
mod idp_others;
mod instances;
mod isolation;
mod limits;
mod ops;
mod paging;
mod portal;
mod portal_browser;
mod projection;
mod provisioning_log;
mod ratelimit;
mod router_fuzz;
mod smoke;
mod support;
mod tokens;
mod users;
