//! Resources: validation and coercion of client input for create (POST) and replace (PUT),
//! and rendering of stored data as the canonical SCIM representation.
//!
//! Stored data ("data") is a JSON object with canonical attribute names: core and common
//! attributes at the top level, each extension's attributes in an object under its URN.
//! It never holds `id`, `meta`, `schemas`, `password`, `User.groups` or `Group.members`:
//! those are either server-owned, never kept, or derived from the membership table.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::ScimError;
use crate::filter::{AttrPath, PatchPath};
use crate::notes::{Notes, Policy, Rule, UnknownAttributes, UserNameChanges};
use crate::schema::{AttrType, AttributeDef, Mutability, Registry, Resolved, ResourceKind, Scope};
use crate::text;

/// The type of a group member (RFC 7643 §4.2 `members.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberType {
    User,
    Group,
}

impl MemberType {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberType::User => "User",
            MemberType::Group => "Group",
        }
    }

    /// Parses `User`/`Group`, case-insensitively.
    pub fn parse(s: &str) -> Option<MemberType> {
        [MemberType::User, MemberType::Group].into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

/// A member reference from client input: the member's id and, if the client said, its type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberRef {
    pub value: String,
    pub member_type: Option<MemberType>,
}

impl MemberRef {
    pub fn new(value: impl Into<String>) -> Self {
        MemberRef { value: value.into(), member_type: None }
    }
}

/// Server-owned metadata of a stored resource (RFC 7643 §3.1 `meta`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    /// Bumped on every change; the ETag is `W/"<version>"`.
    pub version: i64,
    /// The absolute URL of the resource.
    pub location: String,
}

impl Meta {
    /// The weak ETag of this version (RFC 7644 §3.14).
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

/// The weak ETag of a version number.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Whether an `If-Match`/`If-None-Match` tag names `version`: `*`, or the opaque tag with
/// or without its `W/` prefix (A20.4: clients copy `meta.version`, which may be weak).
pub fn etag_matches(header: &str, version: i64) -> bool {
    let wanted = version.to_string();
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"') == wanted)
}

/// The result of validating a create or replace body.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The canonical data to store.
    pub data: Map<String, Value>,
    /// `Group.members` as given (deduplicated by value), when the body had the attribute.
    pub members: Option<Vec<MemberRef>>,
    /// Leniencies that applied.
    pub notes: Notes,
}

/// Validates and coerces a POST or PUT body for `kind` (RFC 7644 §3.3, §3.5.1):
/// required attributes present, values of the right type (string booleans per F-2,
/// dateTimes normalised to UTC), read-only input ignored (F-9), `null`/`""`/`[]`/`{}` as
/// unassigned (F-11), member names matched case-insensitively (F-17), unknown schemas and
/// attributes per the tenant policy (F-10), at most one `primary` per attribute, and the
/// password accepted but dropped (F-30).
pub fn validate_resource(
    registry: &Registry,
    kind: ResourceKind,
    body: &Value,
    policy: &Policy,
) -> Result<Validated, ScimError> {
    let Value::Object(input) = body else {
        return Err(ScimError::invalid_syntax("the request body must be a JSON object"));
    };
    let mut cx = Coercer { registry, kind, policy, notes: Notes::default() };
    let mut data = Map::new();
    let mut members = None;
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in input {
        let lower = key.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(ScimError::invalid_syntax(format!("attribute {key:?} is given more than once")));
        }
        seen.push(lower);
        if key.eq_ignore_ascii_case("schemas") {
            cx.check_schemas(value)?;
            continue;
        }
        if let Some(ext) = registry.extension(kind, key) {
            match value {
                Value::Null => {}
                Value::Object(attrs) => {
                    for (name, v) in attrs {
                        let path = AttrPath { urn: Some(ext.id.clone()), name: name.clone(), sub: None };
                        cx.assign(&mut data, &mut members, &path, v, &format!("{}:{name}", ext.id))?;
                    }
                }
                _ => {
                    return Err(ScimError::invalid_value(format!("{key} must be a JSON object of its attributes")));
                }
            }
            continue;
        }
        let path = match PatchPath::parse_with(key, registry.known_urns()) {
            Ok(PatchPath::Attr(path)) => path,
            _ => {
                cx.unknown(key)?;
                continue;
            }
        };
        cx.assign(&mut data, &mut members, &path, value, key)?;
    }
    for attr in registry.core(kind).attributes.iter().filter(|a| a.required) {
        if !data.contains_key(&attr.name) {
            return Err(ScimError::invalid_value(format!("{} is required and must not be empty", attr.name)));
        }
    }
    Ok(Validated { data: canonical_order(registry, kind, data), members, notes: cx.notes })
}

/// Applies the replace rules of RFC 7644 §3.5.1 on top of a validated PUT body: the
/// userName rule (F-22) and, for an unchanged userName in another case, the stored spelling.
pub fn check_replace(
    existing: &Map<String, Value>,
    replacement: &mut Validated,
    kind: ResourceKind,
    policy: &Policy,
) -> Result<(), ScimError> {
    if kind == ResourceKind::User {
        check_username_change(existing, &mut replacement.data, policy, &mut replacement.notes)?;
    }
    Ok(())
}

/// The userName product rule (F-22), shared by PUT and PATCH: under `reject`, a different
/// userName (compared case-insensitively after NFC) is refused and the same userName in
/// another case keeps the stored spelling. Under `allow`, any new spelling applies.
pub(crate) fn check_username_change(
    old: &Map<String, Value>,
    new: &mut Map<String, Value>,
    policy: &Policy,
    notes: &mut Notes,
) -> Result<(), ScimError> {
    let (Some(Value::String(old_name)), Some(Value::String(new_name))) = (old.get("userName"), new.get("userName"))
    else {
        return Ok(());
    };
    if old_name == new_name || policy.username_changes == UserNameChanges::Allow {
        return Ok(());
    }
    if text::text_eq(old_name, new_name, false) {
        notes.add(Rule::UserNameCaseKept, new_name.clone());
        new.insert("userName".into(), Value::String(old_name.clone()));
        return Ok(());
    }
    Err(ScimError::mutability(format!(
        "userName cannot be changed once provisioned (stored {old_name:?}, requested {new_name:?}); \
         to change it, deprovision the user in the identity provider and provision it again"
    )))
}

/// Orders data the way Roster emits it: `externalId`, core attributes in schema order,
/// then each extension object (its attributes in schema order).
pub fn canonical_order(registry: &Registry, kind: ResourceKind, mut data: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(v) = data.remove("externalId") {
        out.insert("externalId".into(), v);
    }
    for attr in &registry.core(kind).attributes {
        if let Some(v) = data.remove(&attr.name) {
            out.insert(attr.name.clone(), v);
        }
    }
    for ext in registry.extensions(kind) {
        if let Some(Value::Object(mut attrs)) = data.remove(&ext.id) {
            let mut ordered = Map::new();
            for attr in &ext.attributes {
                if let Some(v) = attrs.remove(&attr.name) {
                    ordered.insert(attr.name.clone(), v);
                }
            }
            if !ordered.is_empty() {
                out.insert(ext.id.clone(), Value::Object(ordered));
            }
        }
    }
    // Anything left is data of a definition removed since (a custom attribute); it is not
    // served, so it is dropped here.
    out
}

/// The extra, derived parts of a resource's representation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Derived {
    /// `Group.members` or `User.groups`, already in wire form, when they were loaded.
    pub relations: Option<Vec<Value>>,
}

/// Renders stored data as the full SCIM representation (before projection): `schemas`
/// recomputed from the extensions present (F-10), `id`, the data, derived relations, and
/// `meta`.
pub fn render(
    registry: &Registry,
    kind: ResourceKind,
    id: &str,
    data: &Map<String, Value>,
    meta: &Meta,
    derived: Derived,
) -> Map<String, Value> {
    let extensions = registry.extensions(kind);
    // Only attributes the extension still defines are served: data of a definition removed
    // since is never shown.
    let ext_data: Vec<(&str, Map<String, Value>)> = extensions
        .iter()
        .filter_map(|ext| {
            let attrs = data.get(&ext.id)?.as_object()?;
            let kept: Map<String, Value> =
                attrs.iter().filter(|(k, _)| ext.attribute(k).is_some()).map(|(k, v)| (k.clone(), v.clone())).collect();
            (!kept.is_empty()).then_some((ext.id.as_str(), kept))
        })
        .collect();
    let mut schemas = vec![Value::String(kind.schema_urn().into())];
    schemas.extend(ext_data.iter().map(|(urn, _)| Value::String((*urn).to_string())));
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::String(id.into()));
    // Core attributes; an object under a URN this resource type no longer has is skipped.
    for (k, v) in data {
        if !k.contains(':') {
            out.insert(k.clone(), v.clone());
        }
    }
    if let Some(relations) = derived.relations
        && !relations.is_empty()
    {
        let name = match kind {
            ResourceKind::User => "groups",
            ResourceKind::Group => "members",
        };
        out.insert(name.into(), Value::Array(relations));
    }
    for (urn, attrs) in ext_data {
        out.insert(urn.to_string(), Value::Object(attrs));
    }
    let mut m = Map::new();
    m.insert("resourceType".into(), Value::String(kind.name().into()));
    m.insert("created".into(), Value::String(text::format_datetime(meta.created)));
    m.insert("lastModified".into(), Value::String(text::format_datetime(meta.last_modified)));
    m.insert("location".into(), Value::String(meta.location.clone()));
    m.insert("version".into(), Value::String(meta.etag()));
    out.insert("meta".into(), Value::Object(m));
    out
}

/// Whether a value means "unassigned" (RFC 7643 §2.5, F-11).
pub fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_unassigned),
        Value::Object(o) => o.values().all(is_unassigned),
        _ => false,
    }
}

/// Reads a member list (`Group.members` input): `value` is required; `type` is optional;
/// `$ref` and `display` are server-owned and ignored (F-9). Duplicates are dropped (F-5).
pub fn parse_members(value: &Value, what: &str) -> Result<Vec<MemberRef>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.iter().collect(),
        single @ Value::Object(_) => vec![single],
        Value::String(s) if !s.is_empty() => return Ok(vec![MemberRef::new(s.clone())]),
        _ => {
            return Err(ScimError::invalid_value(format!("{what} must be a list of members")));
        }
    };
    let mut out: Vec<MemberRef> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(obj) = item else {
            return Err(ScimError::invalid_value(format!("{what}[{i}] must be an object with a value")));
        };
        let mut member_value = None;
        let mut member_type = None;
        for (k, v) in obj {
            if k.eq_ignore_ascii_case("value") {
                member_value = match v {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Null => None,
                    Value::String(_) => None,
                    other => {
                        return Err(ScimError::invalid_value(format!(
                            "{what}[{i}].value must be a string id, got {other}"
                        )));
                    }
                };
            } else if k.eq_ignore_ascii_case("type") {
                member_type = match v {
                    Value::Null => None,
                    Value::String(s) if s.is_empty() => None,
                    Value::String(s) => Some(MemberType::parse(s).ok_or_else(|| {
                        ScimError::invalid_value(format!("{what}[{i}].type must be \"User\" or \"Group\", got {s:?}"))
                    })?),
                    other => {
                        return Err(ScimError::invalid_value(format!(
                            "{what}[{i}].type must be a string, got {other}"
                        )));
                    }
                };
            }
        }
        let Some(value) = member_value else {
            if obj.values().all(is_unassigned) {
                continue;
            }
            return Err(ScimError::invalid_value(format!("{what}[{i}].value is required")));
        };
        if !out.iter().any(|m| m.value == value) {
            out.push(MemberRef { value, member_type });
        }
    }
    Ok(out)
}

/// Shared coercion of client values to the types of their definitions.
pub(crate) struct Coercer<'a> {
    pub registry: &'a Registry,
    pub kind: ResourceKind,
    pub policy: &'a Policy,
    pub notes: Notes,
}

impl Coercer<'_> {
    fn check_schemas(&mut self, value: &Value) -> Result<(), ScimError> {
        let urns: Vec<&str> = match value {
            Value::Null => return Ok(()),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            Value::String(s) => vec![s.as_str()],
            _ => {
                return Err(ScimError::invalid_syntax("schemas must be an array of schema URNs"));
            }
        };
        for urn in urns {
            let known =
                urn.eq_ignore_ascii_case(self.kind.schema_urn()) || self.registry.extension(self.kind, urn).is_some();
            if !known {
                if self.policy.unknown_attributes == UnknownAttributes::Reject {
                    return Err(ScimError::invalid_syntax(format!(
                        "schema {urn:?} is not a schema of {} resources",
                        self.kind.name()
                    )));
                }
                self.notes.add(Rule::UnknownSchemaIgnored, urn);
            }
        }
        Ok(())
    }

    /// An attribute or key Roster does not know, per the tenant policy.
    pub(crate) fn unknown(&mut self, name: &str) -> Result<(), ScimError> {
        match self.policy.unknown_attributes {
            UnknownAttributes::Ignore => {
                self.notes.add(Rule::UnknownAttributeIgnored, name);
                Ok(())
            }
            UnknownAttributes::Reject => Err(ScimError::invalid_syntax(format!(
                "attribute {name:?} is not defined for {} resources",
                self.kind.name()
            ))),
        }
    }

    /// Assigns one body key (a plain, dotted or URN-qualified attribute path) into `data`.
    fn assign(
        &mut self,
        data: &mut Map<String, Value>,
        members: &mut Option<Vec<MemberRef>>,
        path: &AttrPath,
        value: &Value,
        label: &str,
    ) -> Result<(), ScimError> {
        let resolved = match self.registry.resolve(self.kind, path) {
            Ok(r) => r,
            Err(_) => return self.unknown(label),
        };
        if path.urn.is_some() && matches!(resolved.scope, Scope::Extension(_)) && path.sub.is_none() {
            // `urn:...:User:department` as a top-level key: an extension attribute spelled flat.
        } else if path.sub.is_some() || path.urn.is_some() {
            self.notes.add(Rule::PathlessQualifiedKey, label);
        }
        if resolved.attr.name == "members" && self.kind == ResourceKind::Group && resolved.sub.is_none() {
            *members = Some(parse_members(value, "members")?);
            return Ok(());
        }
        match resolved.target().mutability {
            Mutability::ReadOnly => {
                if !is_unassigned(value) && !matches!(resolved.attr.name.as_str(), "id" | "meta" | "groups") {
                    self.notes.add(Rule::ReadOnlyIgnored, resolved.canonical_path());
                }
                return Ok(());
            }
            Mutability::WriteOnly => {
                if !is_unassigned(value) {
                    self.notes.add(Rule::PasswordDropped, resolved.canonical_path());
                }
                return Ok(());
            }
            Mutability::ReadWrite | Mutability::Immutable => {}
        }
        let label = resolved.canonical_path();
        match resolved.sub {
            None => {
                let coerced = self.coerce_attr(resolved.attr, value, &label)?;
                with_container(data, &resolved, |container| match coerced {
                    Some(v) => {
                        container.insert(resolved.attr.name.clone(), v);
                    }
                    None => {
                        container.remove(&resolved.attr.name);
                    }
                });
            }
            Some(sub) => {
                if resolved.attr.multi_valued {
                    return Err(ScimError::invalid_value(format!(
                        "{label} names a sub-attribute of a multi-valued attribute; give {} as a list",
                        resolved.attr.name
                    )));
                }
                let coerced = self.coerce_scalar(sub, value, &label)?;
                with_container(data, &resolved, |container| {
                    let entry =
                        container.entry(resolved.attr.name.clone()).or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(obj) = entry {
                        match coerced {
                            Some(v) => {
                                obj.insert(sub.name.clone(), v);
                            }
                            None => {
                                obj.remove(&sub.name);
                            }
                        }
                    }
                    prune_empty(container, &resolved.attr.name);
                });
            }
        }
        Ok(())
    }

    /// Coerces a whole attribute value; `None` means unassigned.
    pub(crate) fn coerce_attr(
        &mut self,
        def: &AttributeDef,
        value: &Value,
        label: &str,
    ) -> Result<Option<Value>, ScimError> {
        if !def.multi_valued {
            return self.coerce_single(def, value, label);
        }
        let items: Vec<&Value> = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items.iter().collect(),
            other => {
                if is_unassigned(other) {
                    return Ok(None);
                }
                self.notes.add(Rule::SingleValueWrapped, label);
                vec![other]
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            if let Some(v) = self.coerce_single(def, item, &format!("{label}[{i}]"))?
                && !out.contains(&v)
            {
                out.push(v);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        if def.is_complex() {
            self.dedupe_primary(&mut out, label, None);
            // Clearing a `primary` can make two elements equal.
            dedupe_elements(&mut out);
        }
        Ok(Some(Value::Array(out)))
    }

    /// Keeps at most one `primary: true`: the element at `keep` if given, else the first.
    pub(crate) fn dedupe_primary(&mut self, items: &mut [Value], label: &str, keep: Option<usize>) {
        let primaries: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, v)| v.get("primary") == Some(&Value::Bool(true)))
            .map(|(i, _)| i)
            .collect();
        if primaries.len() <= 1 {
            return;
        }
        let keep = match keep.filter(|k| primaries.contains(k)) {
            Some(k) => k,
            None => {
                self.notes.add(Rule::PrimaryDeduplicated, label);
                primaries[0]
            }
        };
        for i in primaries {
            if i != keep
                && let Some(Value::Object(o)) = items.get_mut(i)
            {
                o.insert("primary".into(), Value::Bool(false));
            }
        }
    }

    /// Coerces one value of an attribute (an element, for multi-valued ones).
    pub(crate) fn coerce_single(
        &mut self,
        def: &AttributeDef,
        value: &Value,
        label: &str,
    ) -> Result<Option<Value>, ScimError> {
        if !def.is_complex() {
            return self.coerce_scalar(def, value, label);
        }
        let obj = match value {
            Value::Null => return Ok(None),
            Value::Object(obj) => obj,
            Value::Array(items) if !def.multi_valued && def.sub("value").is_some() => {
                // F-8: Entra's older `manager: [{"value": ...}]`.
                self.notes.add(Rule::ManagerShape, label);
                return match items.first() {
                    Some(first) => self.coerce_single(def, first, label),
                    None => Ok(None),
                };
            }
            scalar @ (Value::String(_) | Value::Number(_) | Value::Bool(_)) if def.sub("value").is_some() => {
                // F-8: `manager: "id"`; likewise a bare value for a complex multi-valued element.
                if is_unassigned(scalar) {
                    return Ok(None);
                }
                if !def.multi_valued {
                    self.notes.add(Rule::ManagerShape, label);
                }
                let mut obj = Map::new();
                obj.insert("value".into(), scalar.clone());
                return self.coerce_single(def, &Value::Object(obj), label);
            }
            other => {
                return Err(ScimError::invalid_value(format!("{label} must be a JSON object, got {other}")));
            }
        };
        let mut out = Map::new();
        for (key, v) in obj {
            let Some(sub) = def.sub(key) else {
                self.unknown(&format!("{label}.{key}"))?;
                continue;
            };
            if is_server_owned(def, sub) {
                continue;
            }
            if let Some(coerced) = self.coerce_scalar(sub, v, &format!("{label}.{}", sub.name))? {
                out.insert(sub.name.clone(), coerced);
            }
        }
        // A complex value whose identifying `value` is empty is unassigned as a whole
        // (F-8: `{"value": ""}` removes the manager).
        if def.sub("value").is_some()
            && !out.contains_key("value")
            && obj.keys().any(|k| k.eq_ignore_ascii_case("value"))
        {
            return Ok(None);
        }
        let mut ordered = Map::new();
        for sub in &def.sub_attributes {
            if let Some(v) = out.remove(&sub.name) {
                ordered.insert(sub.name.clone(), v);
            }
        }
        Ok(if ordered.is_empty() { None } else { Some(Value::Object(ordered)) })
    }

    /// Coerces a simple value to `def`'s type; `None` means unassigned.
    pub(crate) fn coerce_scalar(
        &mut self,
        def: &AttributeDef,
        value: &Value,
        label: &str,
    ) -> Result<Option<Value>, ScimError> {
        if let Value::String(s) = value
            && s.is_empty()
        {
            return Ok(None);
        }
        if value.is_null() {
            return Ok(None);
        }
        let wrong = |expected: &str| ScimError::invalid_value(format!("{label} must be {expected}, got {value}"));
        let coerced = match def.ty {
            AttrType::String | AttrType::Reference | AttrType::Binary => match value {
                Value::String(_) => value.clone(),
                Value::Number(n) => {
                    self.notes.add(Rule::ScalarAsString, label);
                    Value::String(n.to_string())
                }
                Value::Bool(b) => {
                    self.notes.add(Rule::ScalarAsString, label);
                    Value::String(b.to_string())
                }
                _ => return Err(wrong("a string")),
            },
            AttrType::Boolean => match value {
                Value::Bool(_) => value.clone(),
                Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                    self.notes.add(Rule::StringBoolean, label);
                    Value::Bool(s.eq_ignore_ascii_case("true"))
                }
                _ => return Err(wrong("a boolean")),
            },
            AttrType::Integer => match value {
                Value::Number(n) if n.is_i64() || n.is_u64() => {
                    if n.as_i64().is_none() {
                        return Err(wrong("an integer within 64 bits"));
                    }
                    value.clone()
                }
                Value::String(s) => match s.trim().parse::<i64>() {
                    Ok(i) => {
                        self.notes.add(Rule::NumericString, label);
                        Value::from(i)
                    }
                    Err(_) => return Err(wrong("an integer")),
                },
                _ => return Err(wrong("an integer")),
            },
            AttrType::Decimal => match value {
                Value::Number(_) => value.clone(),
                Value::String(s) => match s.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                    Some(n) => {
                        self.notes.add(Rule::NumericString, label);
                        Value::Number(n)
                    }
                    None => return Err(wrong("a decimal number")),
                },
                _ => return Err(wrong("a decimal number")),
            },
            AttrType::DateTime => match value {
                Value::String(s) => match text::parse_datetime(s) {
                    Some(t) => Value::String(text::format_datetime(t)),
                    None => return Err(wrong("an xsd:dateTime such as 2008-01-23T04:56:22Z")),
                },
                _ => return Err(wrong("an xsd:dateTime string")),
            },
            AttrType::Complex => return Err(wrong("a simple value")),
        };
        Ok(Some(coerced))
    }
}

/// Sub-attributes Roster computes itself and so ignores on input (F-9): anything read-only,
/// and `$ref`s to Roster's own resources (members, groups, manager).
pub(crate) fn is_server_owned(parent: &AttributeDef, sub: &AttributeDef) -> bool {
    sub.mutability == Mutability::ReadOnly
        || (sub.ty == AttrType::Reference
            && sub.name == "$ref"
            && sub.reference_types.iter().any(|t| t == "User" || t == "Group")
            && parent.ty == AttrType::Complex)
}

/// Runs `f` on the object holding `resolved`'s attribute: the data itself, or its
/// extension object (created when missing, dropped again when left empty).
pub(crate) fn with_container<R>(
    data: &mut Map<String, Value>,
    resolved: &Resolved<'_>,
    f: impl FnOnce(&mut Map<String, Value>) -> R,
) -> R {
    match resolved.extension_urn() {
        None => f(data),
        Some(urn) => {
            let mut ext = match data.remove(urn) {
                Some(Value::Object(obj)) => obj,
                _ => Map::new(),
            };
            let result = f(&mut ext);
            if !ext.values().all(is_unassigned) {
                data.insert(urn.to_string(), Value::Object(ext));
            }
            result
        }
    }
}

/// The object holding `resolved`'s attribute, if present.
pub(crate) fn container<'d>(data: &'d Map<String, Value>, resolved: &Resolved<'_>) -> Option<&'d Map<String, Value>> {
    match resolved.extension_urn() {
        None => Some(data),
        Some(urn) => data.get(urn).and_then(Value::as_object),
    }
}

/// Drops elements equal to an earlier one, keeping the first: a multi-valued attribute
/// never stores the same value twice, also when an operation makes two elements equal (a
/// cleared `primary`, a removed sub-attribute, a value-path write that contradicts its
/// filter).
pub(crate) fn dedupe_elements(items: &mut Vec<Value>) {
    let mut seen: Vec<Value> = Vec::with_capacity(items.len());
    items.retain(|e| {
        let first = !seen.contains(e);
        if first {
            seen.push(e.clone());
        }
        first
    });
}

/// Removes `name` from `container` if its value became unassigned.
pub(crate) fn prune_empty(container: &mut Map<String, Value>, name: &str) {
    if container.get(name).is_some_and(is_unassigned) {
        container.remove(name);
    }
}
