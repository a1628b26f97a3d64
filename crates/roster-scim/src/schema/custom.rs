//! A tenant's custom User extension: `urn:ietf:params:scim:schemas:extension:<vendor>:2.0:User`
//! whose attributes are data an administrator defines, not code.

use super::{AttrType, AttributeDef, Schema};
use crate::error::ScimError;
use crate::filter::check_attr_name;

/// The vendor segment a tenant starts with.
pub const DEFAULT_VENDOR: &str = "roster";

/// The types an administrator may give a custom attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomAttributeType {
    String,
    Boolean,
    Integer,
    Decimal,
    DateTime,
    Reference,
}

impl CustomAttributeType {
    pub const ALL: [CustomAttributeType; 6] = [
        CustomAttributeType::String,
        CustomAttributeType::Boolean,
        CustomAttributeType::Integer,
        CustomAttributeType::Decimal,
        CustomAttributeType::DateTime,
        CustomAttributeType::Reference,
    ];

    /// The schema type.
    pub fn attr_type(self) -> AttrType {
        match self {
            CustomAttributeType::String => AttrType::String,
            CustomAttributeType::Boolean => AttrType::Boolean,
            CustomAttributeType::Integer => AttrType::Integer,
            CustomAttributeType::Decimal => AttrType::Decimal,
            CustomAttributeType::DateTime => AttrType::DateTime,
            CustomAttributeType::Reference => AttrType::Reference,
        }
    }

    /// The spelling used by the CLI, the admin API and `/Schemas`.
    pub fn as_str(self) -> &'static str {
        self.attr_type().as_str()
    }

    /// Parses a type name, case-insensitively.
    pub fn parse(s: &str) -> Option<CustomAttributeType> {
        CustomAttributeType::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for CustomAttributeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An administrator-defined attribute of the custom extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomAttribute {
    pub name: String,
    pub ty: CustomAttributeType,
    pub multi_valued: bool,
    pub description: String,
}

impl CustomAttribute {
    /// Checks the name against the attribute-name grammar (RFC 7643 §2.1).
    pub fn validate_name(name: &str) -> Result<(), ScimError> {
        if name.len() > 128 {
            return Err(ScimError::invalid_value("attribute names are at most 128 characters"));
        }
        check_attr_name(name, 0).map_err(|e| {
            ScimError::invalid_value(format!(
                "{name:?} is not a valid attribute name (a letter, then letters, digits, '-', '_' or '$'): {}",
                e.message
            ))
        })
    }

    fn to_def(&self) -> AttributeDef {
        let def = AttributeDef::new(&self.name, self.ty.attr_type(), &self.description);
        let def = if self.ty == CustomAttributeType::Reference { def.references(&["external"]) } else { def };
        if self.multi_valued { def.multi() } else { def }
    }
}

/// The URN of a tenant's custom User extension.
pub fn custom_extension_urn(vendor: &str) -> String {
    format!("urn:ietf:params:scim:schemas:extension:{vendor}:2.0:User")
}

/// Checks a vendor segment: it becomes one NID-specific segment of a URN, so letters,
/// digits, `-`, `_` and `.`, starting with a letter, at most 64 characters; and it must not
/// collide with the standard `enterprise` extension.
pub fn validate_vendor(vendor: &str) -> Result<(), ScimError> {
    let ok_chars = vendor.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let starts_with_letter = vendor.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !ok_chars || !starts_with_letter || vendor.len() > 64 {
        return Err(ScimError::invalid_value(format!(
            "{vendor:?} is not a valid vendor segment (a letter, then letters, digits, '-', '_' or '.'; at most 64)"
        )));
    }
    if vendor.eq_ignore_ascii_case("enterprise") {
        return Err(ScimError::invalid_value("the vendor segment 'enterprise' is reserved for RFC 7643's extension"));
    }
    Ok(())
}

pub(super) fn custom_extension_schema(vendor: &str, attributes: &[CustomAttribute]) -> Schema {
    Schema {
        id: custom_extension_urn(vendor),
        name: format!("{vendor} User extension"),
        description: "Attributes defined by this tenant's administrators.".into(),
        attributes: attributes.iter().map(CustomAttribute::to_def).collect(),
    }
}
