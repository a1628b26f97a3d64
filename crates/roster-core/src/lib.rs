//! Roster's domain services: tenants, SCIM tokens, users, groups and memberships. They
//! speak the protocol core's types, reach storage only through [`Store`], and take time and
//! randomness from [`Clock`] and [`IdGen`]. Nothing here knows HTTP or SQL.

pub mod admin;
pub mod attributes;
pub mod audit;
pub mod bulk;
pub mod clock;
pub mod error;
pub mod events;
pub mod model;
pub mod portal;
pub mod provisioning;
pub mod scim;
pub mod store;
pub mod tenants;
pub mod tokens;

pub use clock::{Clock, IdGen, ManualClock, RandomIds, SequentialIds, SystemClock};
pub use error::{AuthFailure, Error, Result};
pub use model::{Idp, Related, StoredResource, Tenant, TenantId, TenantSettings, TokenRecord, TokenStatus};
pub use scim::{Core, Fetched, ProjectionArgs, ResourceOut, ScimCtx, WriteReport};
pub use store::Store;
