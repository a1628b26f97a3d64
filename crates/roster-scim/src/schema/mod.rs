//! The schema registry (RFC 7643 §2, §7): attribute definitions with all their
//! characteristics, the standard schemas (core User and Group, EnterpriseUser), a
//! tenant's custom User extension, attribute-path resolution, and the `/Schemas` and
//! `/ResourceTypes` documents that IdPs build their attribute mappings from.

mod custom;
mod render;
mod standard;

pub use custom::{CustomAttribute, CustomAttributeType, custom_extension_urn, validate_vendor};
pub use standard::{ENTERPRISE_USER, GROUP, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA, SERVICE_PROVIDER_CONFIG_SCHEMA, USER};

use std::sync::{Arc, LazyLock};

use crate::filter::AttrPath;

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// The `/Schemas` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }

    /// Whether values compare as text (and so honour `caseExact`).
    pub fn is_textual(self) -> bool {
        matches!(self, AttrType::String | AttrType::Reference | AttrType::Binary)
    }
}

/// RFC 7643 §2.2 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// RFC 7643 §2.2 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// RFC 7643 §2.2 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition with every characteristic of RFC 7643 §7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDef {
    pub name: String,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: String,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: Vec<String>,
    pub reference_types: Vec<String>,
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    /// A definition with the RFC 7643 §2.2 defaults: single-valued, optional, not
    /// caseExact, readWrite, returned by default, not unique.
    pub fn new(name: &str, ty: AttrType, description: &str) -> Self {
        AttributeDef {
            name: name.to_string(),
            ty,
            multi_valued: false,
            description: description.to_string(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    pub fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| v.to_string()).collect();
        self
    }
    pub fn references(mut self, types: &[&str]) -> Self {
        self.reference_types = types.iter().map(|v| v.to_string()).collect();
        self
    }
    pub fn subs(mut self, subs: Vec<AttributeDef>) -> Self {
        self.sub_attributes = subs;
        self
    }

    /// A sub-attribute by name, case-insensitively (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether the attribute is complex.
    pub fn is_complex(&self) -> bool {
        self.ty == AttrType::Complex
    }

    /// The attribute a comparison without sub-attribute targets: the attribute itself when
    /// simple, its `value` sub-attribute when complex and it has one (F-14).
    pub fn comparable(&self) -> Option<&AttributeDef> {
        if self.is_complex() { self.sub("value") } else { Some(self) }
    }
}

/// A schema (RFC 7643 §7): a URN and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub id: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

impl Schema {
    /// An attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// The resource types Roster serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

    /// The ResourceType id and name, also `meta.resourceType`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The endpoint path relative to the tenant's SCIM base.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }

    /// The core schema URN.
    pub fn schema_urn(self) -> &'static str {
        match self {
            ResourceKind::User => USER,
            ResourceKind::Group => GROUP,
        }
    }

    /// Parses an endpoint segment (`Users`, `groups`), case-insensitively.
    pub fn from_endpoint(segment: &str) -> Option<ResourceKind> {
        let segment = segment.trim_start_matches('/');
        ResourceKind::ALL.into_iter().find(|k| k.endpoint()[1..].eq_ignore_ascii_case(segment))
    }
}

/// Where a resolved attribute's value lives in a resource's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'r> {
    /// Top level, in the core schema.
    Core,
    /// Top level, a common attribute of every resource (RFC 7643 §3.1: `id`, `externalId`,
    /// `meta`, and `schemas`).
    Common,
    /// Inside the object keyed by this extension URN.
    Extension(&'r Schema),
}

/// An attribute path resolved against a resource type's schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved<'r> {
    pub scope: Scope<'r>,
    pub attr: &'r AttributeDef,
    pub sub: Option<&'r AttributeDef>,
}

impl<'r> Resolved<'r> {
    /// The extension URN holding the attribute, if any.
    pub fn extension_urn(&self) -> Option<&'r str> {
        match self.scope {
            Scope::Extension(schema) => Some(&schema.id),
            _ => None,
        }
    }

    /// The canonical path: `name`, `name.sub`, or `urn:...:name[.sub]`.
    pub fn canonical_path(&self) -> String {
        let mut out = String::new();
        if let Some(urn) = self.extension_urn() {
            out.push_str(urn);
            out.push(':');
        }
        out.push_str(&self.attr.name);
        if let Some(sub) = self.sub {
            out.push('.');
            out.push_str(&sub.name);
        }
        out
    }

    /// The definition the path ends at (the sub-attribute when there is one).
    pub fn target(&self) -> &'r AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
}

/// Why a path did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("schema {0:?} is not a schema of this resource type")]
    UnknownSchema(String),
    #[error("attribute {0:?} is not defined")]
    UnknownAttribute(String),
    #[error("{0:?} has no sub-attribute {1:?}")]
    UnknownSubAttribute(String, String),
    #[error("{0:?} is not a complex attribute and has no sub-attributes")]
    NotComplex(String),
}

/// The schemas of one tenant: the standard ones plus its custom User extension.
#[derive(Debug, Clone)]
pub struct Registry {
    user: Arc<Schema>,
    group: Arc<Schema>,
    enterprise: Arc<Schema>,
    custom: Arc<Schema>,
    common: Arc<Schema>,
    known_urns: Vec<String>,
}

/// The standard schemas, built once and shared by every tenant's registry.
#[derive(Clone)]
struct Standard {
    user: Arc<Schema>,
    group: Arc<Schema>,
    enterprise: Arc<Schema>,
    common: Arc<Schema>,
}

static STANDARD: LazyLock<Standard> = LazyLock::new(|| Standard {
    user: Arc::new(standard::user_schema()),
    group: Arc::new(standard::group_schema()),
    enterprise: Arc::new(standard::enterprise_user_schema()),
    common: Arc::new(standard::common_attributes()),
});

impl Registry {
    /// The registry of a tenant whose custom extension uses `vendor` and defines
    /// `custom_attributes`. Both are validated when they are defined, not here.
    pub fn new(vendor: &str, custom_attributes: &[CustomAttribute]) -> Registry {
        let Standard { user, group, enterprise, common } = STANDARD.clone();
        let custom = Arc::new(custom::custom_extension_schema(vendor, custom_attributes));
        let known_urns = vec![user.id.clone(), group.id.clone(), enterprise.id.clone(), custom.id.clone()];
        Registry { user, group, enterprise, custom, common, known_urns }
    }

    /// The registry of a tenant with the default vendor (`roster`) and no custom attributes.
    pub fn standard() -> Registry {
        Registry::new(custom::DEFAULT_VENDOR, &[])
    }

    /// Every schema URN this registry knows, for URN-aware path parsing.
    pub fn known_urns(&self) -> &[String] {
        &self.known_urns
    }

    /// The core schema of a resource type.
    pub fn core(&self, kind: ResourceKind) -> &Schema {
        match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        }
    }

    /// The extension schemas of a resource type, in resolution order.
    pub fn extensions(&self, kind: ResourceKind) -> Vec<&Schema> {
        match kind {
            ResourceKind::User => vec![&*self.enterprise, &*self.custom],
            ResourceKind::Group => Vec::new(),
        }
    }

    /// The tenant's custom User extension.
    pub fn custom_extension(&self) -> &Schema {
        &self.custom
    }

    /// The enterprise User extension.
    pub fn enterprise_extension(&self) -> &Schema {
        &self.enterprise
    }

    /// The common attributes (`id`, `externalId`, `meta`, `schemas`).
    pub fn common(&self) -> &Schema {
        &self.common
    }

    /// Every schema served at `/Schemas` for this tenant.
    pub fn schemas(&self) -> Vec<&Schema> {
        vec![&*self.user, &*self.group, &*self.enterprise, &*self.custom]
    }

    /// An extension of `kind` by URN, case-insensitively.
    pub fn extension(&self, kind: ResourceKind, urn: &str) -> Option<&Schema> {
        self.extensions(kind).into_iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves an attribute path for `kind` (RFC 7644 §3.10): a URN prefix selects the
    /// schema; an unqualified name looks in the core schema, the common attributes, then
    /// each extension (so `manager` finds the enterprise extension, F-8).
    pub fn resolve(&self, kind: ResourceKind, path: &AttrPath) -> Result<Resolved<'_>, ResolveError> {
        let core = self.core(kind);
        let (scope, attr) = match &path.urn {
            Some(urn) if urn.eq_ignore_ascii_case(&core.id) => {
                if let Some(attr) = core.attribute(&path.name) {
                    (Scope::Core, attr)
                } else if let Some(attr) = self.common.attribute(&path.name) {
                    (Scope::Common, attr)
                } else {
                    return Err(ResolveError::UnknownAttribute(path.to_string()));
                }
            }
            Some(urn) => {
                let ext = self.extension(kind, urn).ok_or_else(|| ResolveError::UnknownSchema(urn.clone()))?;
                let attr = ext.attribute(&path.name).ok_or_else(|| ResolveError::UnknownAttribute(path.to_string()))?;
                (Scope::Extension(ext), attr)
            }
            None => {
                if let Some(attr) = core.attribute(&path.name) {
                    (Scope::Core, attr)
                } else if let Some(attr) = self.common.attribute(&path.name) {
                    (Scope::Common, attr)
                } else {
                    self.extensions(kind)
                        .into_iter()
                        .find_map(|ext| ext.attribute(&path.name).map(|a| (Scope::Extension(ext), a)))
                        .ok_or_else(|| ResolveError::UnknownAttribute(path.to_string()))?
                }
            }
        };
        let sub = match &path.sub {
            None => None,
            Some(sub_name) => {
                if !attr.is_complex() {
                    return Err(ResolveError::NotComplex(attr.name.clone()));
                }
                Some(
                    attr.sub(sub_name)
                        .ok_or_else(|| ResolveError::UnknownSubAttribute(attr.name.clone(), sub_name.clone()))?,
                )
            }
        };
        Ok(Resolved { scope, attr, sub })
    }

    /// The `/Schemas` ListResponse resources, each with `meta.location` under `base_url`.
    pub fn schema_documents(&self, base_url: &str) -> Vec<serde_json::Value> {
        render::schema_documents(self, base_url)
    }

    /// One schema document by URN (case-insensitive), for `/Schemas/{id}`.
    pub fn schema_document(&self, urn: &str, base_url: &str) -> Option<serde_json::Value> {
        render::schema_documents(self, base_url)
            .into_iter()
            .find(|doc| doc["id"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(urn)))
    }

    /// The `/ResourceTypes` resources.
    pub fn resource_type_documents(&self, base_url: &str) -> Vec<serde_json::Value> {
        ResourceKind::ALL.iter().map(|k| render::resource_type_document(self, *k, base_url)).collect()
    }

    /// One ResourceType by id (`User`, `Group`), for `/ResourceTypes/{id}`.
    pub fn resource_type_document(&self, id: &str, base_url: &str) -> Option<serde_json::Value> {
        ResourceKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(id))
            .map(|k| render::resource_type_document(self, k, base_url))
    }
}

#[cfg(test)]
mod tests;
