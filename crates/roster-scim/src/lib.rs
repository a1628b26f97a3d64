//! The SCIM 2.0 protocol core of Roster (RFC 7643, RFC 7644): pure functions and types,
//! no I/O, no async, no SQL, no HTTP.
//!
//! - [`filter`]: the filter and PATCH-path language, parsed by hand to an AST.
//! - [`schema`]: attribute definitions, the standard and custom schemas, path resolution,
//!   and the `/Schemas` and `/ResourceTypes` documents.
//! - [`resource`]: validation and coercion of POST/PUT bodies; rendering of stored data.
//! - [`patch`]: the PATCH engine.
//! - [`query`]: resolved filters, in-memory evaluation and sort keys.
//! - [`projection`]: `attributes` / `excludedAttributes`.
//! - [`messages`], [`bulk`], [`discovery`]: the wire messages.
//! - [`error`]: SCIM errors with their `scimType` and HTTP status.
//!
//! Every leniency is listed in this crate's README with the identity provider it serves.

pub mod bulk;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod messages;
pub mod notes;
pub mod patch;
pub mod projection;
pub mod query;
pub mod resource;
pub mod schema;
pub mod text;

pub use error::{ScimError, ScimType};
pub use filter::{AttrPath, CompValue, CompareOp, Filter, FilterError, ParseLimits, PatchPath};
pub use notes::{Note, Notes, Policy, Rule, UnknownAttributes, UserNameChanges};
pub use patch::{MemberOp, OpKind, PatchOperation, PatchOutcome, PatchRequest, apply_patch};
pub use projection::Projection;
pub use query::{AttrRef, Literal, UnknownFilterAttribute, ValidFilter};
pub use resource::{Derived, MemberRef, MemberType, Meta, Validated, render, validate_resource};
pub use schema::{Registry, ResourceKind};
