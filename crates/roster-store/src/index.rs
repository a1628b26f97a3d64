//! What storage derives from a resource's data so filters can be answered in SQL exactly as
//! the protocol core evaluates them in memory: the hot columns, and one `resource_values`
//! row per other attribute value, holding its comparison key.

use serde_json::{Map, Value};

use roster_scim::schema::{AttrType, AttributeDef};
use roster_scim::{Registry, ResourceKind, text};

/// The columns of the `resources` row that come from the data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Columns {
    pub unique_key: String,
    pub external_id: Option<String>,
    pub active: Option<i64>,
    pub display: String,
    pub display_key: String,
}

/// One `resource_values` row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValueRow {
    pub path: String,
    pub elem: i64,
    pub str: Option<String>,
    pub num: Option<f64>,
}

/// Attributes answered from columns (or the membership table), not from value rows.
pub(crate) fn column_attribute(kind: ResourceKind, name: &str) -> bool {
    matches!(
        (kind, name),
        (_, "id" | "externalId" | "meta")
            | (ResourceKind::User, "userName" | "active" | "groups")
            | (ResourceKind::Group, "displayName" | "members")
    )
}

/// The longest key a column index holds: PostgreSQL refuses B-tree rows above about 2.7 KB,
/// so the identifiers kept in indexed columns are bounded well below that.
pub(crate) const MAX_KEY_BYTES: usize = 1024;

pub(crate) fn columns(kind: ResourceKind, data: &Map<String, Value>) -> roster_core::Result<Columns> {
    let text_of = |name: &str| data.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    let (unique, display) = match kind {
        ResourceKind::User => {
            let user_name = text_of("userName");
            let display = data
                .get("displayName")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| user_name.clone());
            (user_name, display)
        }
        ResourceKind::Group => {
            let name = text_of("displayName");
            (name.clone(), name)
        }
    };
    let columns = Columns {
        unique_key: text::fold(&unique),
        external_id: data.get("externalId").and_then(Value::as_str).map(|s| text::nfc(s).into_owned()),
        active: data.get("active").and_then(Value::as_bool).map(i64::from),
        display_key: text::fold(&display),
        display,
    };
    let too_long = |what: &str, key: &str| {
        (key.len() > MAX_KEY_BYTES).then(|| {
            roster_core::Error::Scim(roster_scim::ScimError::invalid_value(format!(
                "{what} is too long: at most {MAX_KEY_BYTES} bytes"
            )))
        })
    };
    let unique_name = if kind == ResourceKind::User { "userName" } else { "displayName" };
    if let Some(e) = too_long(unique_name, &columns.unique_key)
        .or_else(|| too_long("displayName", &columns.display_key))
        .or_else(|| columns.external_id.as_deref().and_then(|x| too_long("externalId", x)))
    {
        return Err(e);
    }
    Ok(columns)
}

/// The comparison key of a value under its definition: what both the index rows and the
/// filter literals are reduced to.
pub(crate) fn encode(def: &AttributeDef, value: &Value) -> Option<(Option<String>, Option<f64>)> {
    match def.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            value.as_str().map(|s| (Some(text::compare_key(s, def.case_exact).into_owned()), None))
        }
        AttrType::Boolean => value.as_bool().map(|b| (None, Some(if b { 1.0 } else { 0.0 }))),
        // Integers also keep an exact key: as f64 they lose precision beyond 2^53, and
        // filters compare integers exactly (sorting uses `num`, as the evaluator does).
        AttrType::Integer => value.as_f64().map(|n| (value.as_i64().map(integer_key), Some(n))),
        AttrType::Decimal => value.as_f64().map(|n| (None, Some(n))),
        AttrType::DateTime => {
            value.as_str().and_then(text::parse_datetime).map(|t| (Some(text::sortable_datetime(t)), None))
        }
        AttrType::Complex => None,
    }
}

/// A fixed-width key of an integer whose byte order is numeric order (the sign bit flipped,
/// in hex): how `str` holds integer values so comparisons stay exact.
pub(crate) fn integer_key(i: i64) -> String {
    format!("{:016x}", (i as u64) ^ (1 << 63))
}

/// The value rows of a resource.
pub(crate) fn value_rows(registry: &Registry, kind: ResourceKind, data: &Map<String, Value>) -> Vec<ValueRow> {
    let mut rows = Vec::new();
    rows.push(ValueRow { path: "schemas".into(), elem: 0, str: Some(text::fold(kind.schema_urn())), num: None });
    let mut ext_index = 1;
    for ext in registry.extensions(kind) {
        if let Some(Value::Object(attrs)) = data.get(&ext.id) {
            rows.push(ValueRow { path: "schemas".into(), elem: ext_index, str: Some(text::fold(&ext.id)), num: None });
            ext_index += 1;
            for attr in &ext.attributes {
                if let Some(v) = attrs.get(&attr.name) {
                    push_attr(&mut rows, &format!("{}:{}", ext.id, attr.name), attr, v);
                }
            }
        }
    }
    for attr in &registry.core(kind).attributes {
        if column_attribute(kind, &attr.name) {
            continue;
        }
        if let Some(v) = data.get(&attr.name) {
            push_attr(&mut rows, &attr.name, attr, v);
        }
    }
    rows
}

fn push_attr(rows: &mut Vec<ValueRow>, path: &str, attr: &AttributeDef, value: &Value) {
    let elements: Vec<&Value> = match (attr.multi_valued, value) {
        (true, Value::Array(items)) => items.iter().collect(),
        (_, v) => vec![v],
    };
    for (elem, element) in elements.into_iter().enumerate() {
        let elem = elem as i64;
        if attr.is_complex() {
            let Value::Object(obj) = element else {
                continue;
            };
            for sub in &attr.sub_attributes {
                if let Some((str, num)) = obj.get(&sub.name).and_then(|v| encode(sub, v)) {
                    rows.push(ValueRow { path: format!("{path}.{}", sub.name), elem, str, num });
                }
            }
        } else if let Some((str, num)) = encode(attr, element) {
            rows.push(ValueRow { path: path.to_string(), elem, str, num });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn value_rows_keep_element_positions_and_fold_case_insensitive_text() {
        let registry = Registry::standard();
        let data = json!({
            "userName": "BJensen",
            "title": "Tour GUIDE",
            "emails": [{"value": "A@x.io", "type": "work", "primary": true}, {"value": "b@x.io", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "Mgr-1"}}
        });
        let rows = value_rows(&registry, ResourceKind::User, data.as_object().unwrap());
        let find = |path: &str, elem: i64| rows.iter().find(|r| r.path == path && r.elem == elem).cloned();
        assert_eq!(find("title", 0).unwrap().str.as_deref(), Some("tour guide"));
        assert_eq!(find("emails.value", 1).unwrap().str.as_deref(), Some("b@x.io"));
        assert_eq!(find("emails.primary", 0).unwrap().num, Some(1.0));
        // manager.value is caseExact: kept as is.
        let manager = find("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", 0).unwrap();
        assert_eq!(manager.str.as_deref(), Some("Mgr-1"));
        assert!(rows.iter().all(|r| r.path != "userName"), "userName lives in a column");
        assert_eq!(rows.iter().filter(|r| r.path == "schemas").count(), 2);
    }

    #[test]
    fn columns_fold_the_unique_key_and_fall_back_to_user_name_for_display() {
        let c =
            columns(ResourceKind::User, json!({"userName": "ÉMILE@X", "active": false}).as_object().unwrap()).unwrap();
        assert_eq!(c.unique_key, "émile@x");
        assert_eq!(c.display, "ÉMILE@X");
        assert_eq!(c.active, Some(0));
    }
}
