//! Renders schemas and resource types as the JSON documents of RFC 7643 §6–7. Entra builds
//! its mapping targets from these, so: camelCase values, no nulls, `canonicalValues` on
//! every `type` sub-attribute that has them (D-4, D-6).

use serde_json::{Map, Value, json};

use super::standard::{RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA, meta_schemas};
use super::{AttrType, AttributeDef, Registry, ResourceKind, Schema};

fn attribute_json(attr: &AttributeDef) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(attr.name));
    o.insert("type".into(), json!(attr.ty.as_str()));
    o.insert("multiValued".into(), json!(attr.multi_valued));
    o.insert("description".into(), json!(attr.description));
    o.insert("required".into(), json!(attr.required));
    if attr.ty != AttrType::Complex && attr.ty != AttrType::Boolean {
        o.insert("caseExact".into(), json!(attr.case_exact));
    }
    if !attr.canonical_values.is_empty() {
        o.insert("canonicalValues".into(), json!(attr.canonical_values));
    }
    o.insert("mutability".into(), json!(attr.mutability.as_str()));
    o.insert("returned".into(), json!(attr.returned.as_str()));
    if attr.ty != AttrType::Complex {
        o.insert("uniqueness".into(), json!(attr.uniqueness.as_str()));
    }
    if attr.ty == AttrType::Reference {
        o.insert("referenceTypes".into(), json!(attr.reference_types));
    }
    if attr.ty == AttrType::Complex {
        o.insert("subAttributes".into(), Value::Array(attr.sub_attributes.iter().map(attribute_json).collect()));
    }
    Value::Object(o)
}

fn schema_json(schema: &Schema, base_url: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": schema.attributes.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base_url}/Schemas/{}", schema.id),
        }
    })
}

pub(super) fn schema_documents(registry: &Registry, base_url: &str) -> Vec<Value> {
    let mut docs: Vec<Value> = registry.schemas().into_iter().map(|s| schema_json(s, base_url)).collect();
    docs.extend(meta_schemas().iter().map(|s| schema_json(s, base_url)));
    docs
}

pub(super) fn resource_type_document(registry: &Registry, kind: ResourceKind, base_url: &str) -> Value {
    let mut o = Map::new();
    o.insert("schemas".into(), json!([RESOURCE_TYPE_SCHEMA]));
    o.insert("id".into(), json!(kind.name()));
    o.insert("name".into(), json!(kind.name()));
    o.insert("endpoint".into(), json!(kind.endpoint()));
    o.insert(
        "description".into(),
        json!(match kind {
            ResourceKind::User => "User Account",
            ResourceKind::Group => "Group",
        }),
    );
    o.insert("schema".into(), json!(kind.schema_urn()));
    let extensions = registry.extensions(kind);
    if !extensions.is_empty() {
        o.insert(
            "schemaExtensions".into(),
            Value::Array(extensions.iter().map(|s| json!({"schema": s.id, "required": false})).collect()),
        );
    }
    o.insert(
        "meta".into(),
        json!({"resourceType": "ResourceType", "location": format!("{base_url}/ResourceTypes/{}", kind.name())}),
    );
    Value::Object(o)
}
