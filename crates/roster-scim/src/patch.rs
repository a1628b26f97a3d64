//! The PATCH engine (RFC 7644 §3.5.2): applies a PatchOp to a resource's stored data under
//! its schema, atomically, and reports what changed.
//!
//! `Group.members` is never held in the data: member operations come out as
//! [`MemberOp`]s, in order, for storage to apply as set operations on its membership table,
//! so a PATCH costs O(changed members), not O(group size) (F-26).
//!
//! Leniencies (Part F): case-insensitive `op` and `Operations` (F-1, F-17), string booleans
//! (F-2), `remove` with a value list removes only those values (F-4), idempotent add and
//! remove (F-5, F-24), value-path upsert for `eq` filters (F-6), path-less values with
//! dotted and URN keys (F-7), `manager` as a string or object (F-8), read-only input in
//! path-less values ignored (F-9), unknown attributes per policy (F-10), `""`/`null`/`[]`
//! unassign (F-11).

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::{AttrPath, PatchPath};
use crate::notes::{Notes, Policy, Rule, UnknownAttributes};
use crate::query::{Literal, ValidFilter};
use crate::resource::{
    Coercer, MemberRef, canonical_order, check_username_change, dedupe_elements, is_server_owned, is_unassigned,
    parse_members, prune_empty, with_container,
};
use crate::schema::{AttributeDef, Mutability, Registry, Resolved, ResourceKind, Scope};
use crate::text;

/// The PatchOp message schema (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// `add`, `remove` or `replace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

impl OpKind {
    /// Parses an op name case-insensitively (F-1: Entra sends `Add`, `Replace`, `Remove`).
    pub fn parse(s: &str) -> Option<OpKind> {
        [OpKind::Add, OpKind::Remove, OpKind::Replace].into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }
}

/// One operation of a PatchOp.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    /// The `value` member; `Some(Value::Null)` when it was given as `null`.
    pub value: Option<Value>,
}

/// A parsed PatchOp request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    /// Reads a PatchOp body. `Operations` and member names are matched case-insensitively;
    /// a missing `schemas` is tolerated (some clients omit it); a missing or empty
    /// `Operations` is `400 invalidSyntax`; a malformed path is `400 invalidPath`.
    pub fn from_json(body: &Value, known_urns: &[String]) -> Result<PatchRequest, ScimError> {
        let Value::Object(obj) = body else {
            return Err(ScimError::invalid_syntax("a PatchOp body must be a JSON object"));
        };
        let operations = obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
            .map(|(_, v)| v)
            .ok_or_else(|| ScimError::invalid_syntax("a PatchOp needs an \"Operations\" array"))?;
        let Value::Array(items) = operations else {
            return Err(ScimError::invalid_syntax("\"Operations\" must be an array"));
        };
        if items.is_empty() {
            return Err(ScimError::invalid_syntax("\"Operations\" must hold at least one operation"));
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let n = i + 1;
            let Value::Object(op) = item else {
                return Err(ScimError::invalid_syntax(format!("operation {n} must be a JSON object")));
            };
            let get = |name: &str| op.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
            let kind = match get("op") {
                Some(Value::String(s)) => OpKind::parse(s).ok_or_else(|| {
                    ScimError::invalid_syntax(format!("operation {n}: unknown op {s:?} (use add, remove or replace)"))
                })?,
                Some(other) => {
                    return Err(ScimError::invalid_syntax(format!("operation {n}: op must be a string, got {other}")));
                }
                None => {
                    return Err(ScimError::invalid_syntax(format!("operation {n} has no \"op\"")));
                }
            };
            let path = match get("path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(PatchPath::parse_with(s, known_urns).map_err(|e| {
                    let mut err = e.into_path_error();
                    err.detail = format!("operation {n}: {}", err.detail);
                    err
                })?),
                Some(other) => {
                    return Err(ScimError::invalid_path(format!("operation {n}: path must be a string, got {other}")));
                }
            };
            let value = get("value").cloned();
            if kind == OpKind::Remove && path.is_none() {
                return Err(ScimError::no_target(format!("operation {n}: remove needs a path")));
            }
            if kind != OpKind::Remove && value.is_none() {
                return Err(ScimError::invalid_value(format!("operation {n}: {} needs a value", kind.as_str())));
            }
            out.push(PatchOperation { op: kind, path, value });
        }
        Ok(PatchRequest { operations: out })
    }
}

/// A change to a group's membership, for storage to apply in order.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberOp {
    /// Add these members (already present ones are no-ops).
    Add(Vec<MemberRef>),
    /// Remove the members with these ids (absent ones are no-ops).
    Remove(Vec<String>),
    /// Remove the members matching this element filter (for filters that are not plain
    /// `value eq` lists).
    RemoveWhere(ValidFilter),
    /// Make the membership exactly these members (`[]` clears the group).
    Replace(Vec<MemberRef>),
}

impl MemberOp {
    /// Applies the operation to an in-memory member list (as rendered `members` elements
    /// with at least `value`). Storage does the same with set operations on its table.
    pub fn apply_in_memory(&self, members: &mut Vec<Value>) {
        let as_element = |m: &MemberRef| {
            let mut o = Map::new();
            o.insert("value".into(), Value::String(m.value.clone()));
            if let Some(t) = m.member_type {
                o.insert("type".into(), Value::String(t.as_str().into()));
            }
            Value::Object(o)
        };
        let id_of = |v: &Value| v.get("value").and_then(Value::as_str).map(str::to_string);
        match self {
            MemberOp::Add(refs) => {
                for m in refs {
                    if !members.iter().any(|e| id_of(e).as_deref() == Some(m.value.as_str())) {
                        members.push(as_element(m));
                    }
                }
            }
            MemberOp::Remove(ids) => members.retain(|e| id_of(e).is_none_or(|id| !ids.contains(&id))),
            MemberOp::RemoveWhere(filter) => members.retain(|e| !filter.matches_element(e)),
            MemberOp::Replace(refs) => *members = refs.iter().map(as_element).collect(),
        }
    }
}

/// What a PATCH did.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// The new stored data.
    pub data: Map<String, Value>,
    /// Membership changes, in request order (groups only).
    pub member_ops: Vec<MemberOp>,
    /// Canonical paths of the attributes whose values changed (`urn:...:attr` for
    /// extension attributes). Members are reported through `member_ops`.
    pub changed: Vec<String>,
    /// Leniencies that applied.
    pub notes: Notes,
}

impl PatchOutcome {
    /// Whether the data is unchanged and no member operation is pending.
    pub fn data_unchanged(&self) -> bool {
        self.changed.is_empty()
    }
}

/// Applies `request` to a resource's stored data. Operations apply in order, each seeing
/// the previous one's result (P6); if any fails, the error comes back and nothing changes
/// (P7). The userName rule (F-22) is checked on the final result.
pub fn apply_patch(
    registry: &Registry,
    kind: ResourceKind,
    resource_id: &str,
    data: &Map<String, Value>,
    request: &PatchRequest,
    policy: &Policy,
) -> Result<PatchOutcome, ScimError> {
    let mut engine = Engine {
        cx: Coercer { registry, kind, policy, notes: Notes::default() },
        resource_id,
        data: data.clone(),
        member_ops: Vec::new(),
    };
    for (i, op) in request.operations.iter().enumerate() {
        engine.apply(op).map_err(|mut e| {
            let path = op.path.as_ref().map(|p| format!(" {p}")).unwrap_or_default();
            e.detail = format!("operation {} ({}{path}): {}", i + 1, op.op.as_str(), e.detail);
            e
        })?;
    }
    let Engine { mut cx, data: mut new, member_ops, .. } = engine;
    if kind == ResourceKind::User {
        check_username_change(data, &mut new, policy, &mut cx.notes)?;
    }
    let new = canonical_order(registry, kind, new);
    let changed = changed_paths(registry, kind, data, &new);
    Ok(PatchOutcome { data: new, member_ops, changed, notes: cx.notes })
}

/// Canonical paths whose values differ between two versions of a resource's data.
pub fn changed_paths(
    registry: &Registry,
    kind: ResourceKind,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
) -> Vec<String> {
    let mut out = Vec::new();
    let extensions = registry.extensions(kind);
    let mut keys: Vec<&String> = old.keys().collect();
    keys.extend(new.keys().filter(|k| !old.contains_key(*k)));
    for key in keys {
        let (a, b) = (old.get(key), new.get(key));
        if a == b {
            continue;
        }
        if extensions.iter().any(|e| &e.id == key) {
            let empty = Map::new();
            let a = a.and_then(Value::as_object).unwrap_or(&empty);
            let b = b.and_then(Value::as_object).unwrap_or(&empty);
            let mut names: Vec<&String> = a.keys().collect();
            names.extend(b.keys().filter(|k| !a.contains_key(*k)));
            for name in names {
                if a.get(name) != b.get(name) {
                    out.push(format!("{key}:{name}"));
                }
            }
        } else {
            out.push(key.clone());
        }
    }
    out
}

struct Engine<'a> {
    cx: Coercer<'a>,
    resource_id: &'a str,
    data: Map<String, Value>,
    member_ops: Vec<MemberOp>,
}

impl Engine<'_> {
    fn apply(&mut self, op: &PatchOperation) -> Result<(), ScimError> {
        match &op.path {
            Some(path) => self.apply_path(op.op, path, op.value.as_ref(), false),
            None => match &op.value {
                Some(Value::Object(obj)) => self.apply_pathless(op.op, obj),
                _ => Err(ScimError::invalid_value(format!(
                    "{} without a path needs an object of attributes as its value",
                    op.op.as_str()
                ))),
            },
        }
    }

    /// F-7: a path-less value whose keys are attribute names, dotted sub-attribute paths,
    /// URN-qualified paths or whole extension objects.
    fn apply_pathless(&mut self, op: OpKind, obj: &Map<String, Value>) -> Result<(), ScimError> {
        let registry = self.cx.registry;
        let kind = self.cx.kind;
        for (key, value) in obj {
            if key.eq_ignore_ascii_case("schemas") || key.eq_ignore_ascii_case("meta") {
                continue;
            }
            if key.eq_ignore_ascii_case("id") {
                // F-9: Okta's group rename carries the group's own id.
                if value.as_str() == Some(self.resource_id) || is_unassigned(value) {
                    continue;
                }
                return Err(ScimError::mutability(format!(
                    "id is read-only (value {value} differs from {})",
                    self.resource_id
                )));
            }
            if let Some(ext) = registry.extension(kind, key) {
                self.apply_path(op, &PatchPath::Schema(ext.id.clone()), Some(value), true)?;
                continue;
            }
            let path = match PatchPath::parse_with(key, registry.known_urns()) {
                Ok(path) => path,
                Err(_) => {
                    self.unknown_path(key)?;
                    continue;
                }
            };
            if key.contains(['.', ':', '[']) {
                self.cx.notes.add(Rule::PathlessQualifiedKey, key.clone());
            }
            self.apply_path(op, &path, Some(value), true)?;
        }
        Ok(())
    }

    fn unknown_path(&mut self, label: &str) -> Result<(), ScimError> {
        match self.cx.policy.unknown_attributes {
            UnknownAttributes::Ignore => {
                self.cx.notes.add(Rule::UnknownAttributeIgnored, label);
                Ok(())
            }
            UnknownAttributes::Reject => Err(ScimError::invalid_path(format!(
                "{label:?} is not an attribute of {} resources",
                self.cx.kind.name()
            ))),
        }
    }

    fn apply_path(
        &mut self,
        op: OpKind,
        path: &PatchPath,
        value: Option<&Value>,
        pathless: bool,
    ) -> Result<(), ScimError> {
        let registry = self.cx.registry;
        let kind = self.cx.kind;
        match path {
            PatchPath::Schema(urn) => {
                let Some(ext) = registry.extension(kind, urn) else {
                    return self.unknown_path(urn);
                };
                match (op, value) {
                    (OpKind::Remove, _) | (OpKind::Replace, Some(Value::Null)) => {
                        self.data.remove(&ext.id);
                        Ok(())
                    }
                    (_, None | Some(Value::Null)) => Ok(()),
                    (_, Some(Value::Object(attrs))) => {
                        for (name, v) in attrs {
                            let attr_path = AttrPath { urn: Some(ext.id.clone()), name: name.clone(), sub: None };
                            self.apply_path(op, &PatchPath::Attr(attr_path), Some(v), pathless)?;
                        }
                        Ok(())
                    }
                    (_, Some(other)) => Err(ScimError::invalid_value(format!(
                        "{} must be given an object of its attributes, got {other}",
                        ext.id
                    ))),
                }
            }
            PatchPath::Attr(attr_path) => {
                let Ok(resolved) = registry.resolve(kind, attr_path) else {
                    return self.unknown_path(&attr_path.to_string());
                };
                self.apply_target(op, resolved, None, resolved.sub, value, pathless)
            }
            PatchPath::Filtered { path: attr_path, filter, sub } => {
                let Ok(resolved) = registry.resolve(kind, attr_path) else {
                    return self.unknown_path(&attr_path.to_string());
                };
                if !resolved.attr.is_complex() {
                    return Err(ScimError::invalid_path(format!(
                        "{attr_path}[...] filters a complex attribute; {} is {}",
                        resolved.attr.name,
                        resolved.attr.ty.as_str()
                    )));
                }
                let sub_def = match sub {
                    None => None,
                    Some(name) => match resolved.attr.sub(name) {
                        Some(def) => Some(def),
                        // Well-formed but not in the schema: the tenant policy decides, as
                        // for `name.unknown` (P5, F-10).
                        None => {
                            return self.unknown_path(&format!("{}.{name}", resolved.canonical_path()));
                        }
                    },
                };
                let valid = registry
                    .check_element_filter(kind, resolved, filter)
                    .map_err(|e| ScimError::invalid_path(format!("in the value filter of {path}: {}", e.detail)))?;
                self.apply_target(op, resolved, Some(valid), sub_def, value, pathless)
            }
        }
    }

    /// Checks mutability (RFC 7643 §2.2, P8); `Ok(false)` means "skip silently".
    fn check_mutability(
        &mut self,
        op: OpKind,
        resolved: &Resolved<'_>,
        sub: Option<&AttributeDef>,
        value: Option<&Value>,
        pathless: bool,
    ) -> Result<bool, ScimError> {
        let attr = resolved.attr;
        let label = match sub {
            Some(s) => format!("{}.{}", resolved.canonical_path(), s.name),
            None => resolved.canonical_path(),
        };
        if attr.mutability == Mutability::ReadOnly || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly) {
            if attr.name == "id"
                && resolved.scope == Scope::Common
                && value.and_then(Value::as_str) == Some(self.resource_id)
            {
                return Ok(false);
            }
            if pathless {
                self.cx.notes.add(Rule::ReadOnlyIgnored, label);
                return Ok(false);
            }
            return Err(ScimError::mutability(format!("{label} is read-only")));
        }
        if attr.mutability == Mutability::WriteOnly {
            if op != OpKind::Remove {
                self.cx.notes.add(Rule::PasswordDropped, label);
            }
            return Ok(false);
        }
        if sub.is_some_and(|s| s.mutability == Mutability::Immutable) {
            return Err(ScimError::mutability(format!("{label} is immutable")));
        }
        if attr.mutability == Mutability::Immutable {
            let present = crate::resource::container(&self.data, resolved).is_some_and(|c| c.contains_key(&attr.name));
            if present && !(op == OpKind::Add && value.is_some_and(is_unassigned)) {
                return Err(ScimError::mutability(format!("{label} is immutable and already set")));
            }
        }
        if op == OpKind::Remove && sub.is_none() && attr.required {
            return Err(ScimError::mutability(format!("{label} is required and cannot be removed")));
        }
        Ok(true)
    }

    fn apply_target(
        &mut self,
        op: OpKind,
        resolved: Resolved<'_>,
        filter: Option<ValidFilter>,
        sub: Option<&AttributeDef>,
        value: Option<&Value>,
        pathless: bool,
    ) -> Result<(), ScimError> {
        if self.cx.kind == ResourceKind::Group && resolved.scope == Scope::Core && resolved.attr.name == "members" {
            return self.apply_members(op, filter, sub, value);
        }
        if !self.check_mutability(op, &resolved, sub, value, pathless)? {
            return Ok(());
        }
        let label = resolved.canonical_path();
        match (&filter, sub) {
            (None, None) => self.set_whole(op, &resolved, value, &label),
            (None, Some(sub)) => self.set_sub_everywhere(op, &resolved, sub, value, &label),
            (Some(filter), sub) => self.set_filtered(op, &resolved, filter, sub, value, &label),
        }
    }

    /// `op` on a whole attribute (no filter, no sub-attribute).
    fn set_whole(
        &mut self,
        op: OpKind,
        resolved: &Resolved<'_>,
        value: Option<&Value>,
        label: &str,
    ) -> Result<(), ScimError> {
        let attr = resolved.attr;
        let name = attr.name.clone();
        match op {
            OpKind::Remove => {
                if attr.multi_valued && value.is_some_and(|v| !v.is_null()) {
                    return self.remove_listed(resolved, value.unwrap_or(&Value::Null), label);
                }
                with_container(&mut self.data, resolved, |c| {
                    c.remove(&name);
                });
                Ok(())
            }
            OpKind::Add | OpKind::Replace => {
                let value = value.unwrap_or(&Value::Null);
                if attr.multi_valued {
                    let coerced = self.cx.coerce_attr(attr, value, label)?;
                    let Some(Value::Array(new_items)) = coerced else {
                        if op == OpKind::Replace {
                            with_container(&mut self.data, resolved, |c| {
                                c.remove(&name);
                            });
                        }
                        return Ok(());
                    };
                    if op == OpKind::Replace {
                        with_container(&mut self.data, resolved, |c| {
                            c.insert(name.clone(), Value::Array(new_items));
                        });
                        return Ok(());
                    }
                    let is_complex = attr.is_complex();
                    with_container(&mut self.data, resolved, |c| {
                        let entry = c.entry(name.clone()).or_insert_with(|| Value::Array(Vec::new()));
                        if !entry.is_array() {
                            *entry = Value::Array(Vec::new());
                        }
                        if let Value::Array(items) = entry {
                            let mut touched = Vec::new();
                            for new in new_items {
                                touched.push(merge_element(items, new, is_complex));
                            }
                            fix_primary(items, &touched);
                            // Clearing a `primary` can make two elements equal.
                            dedupe_elements(items);
                        }
                        prune_empty(c, &name);
                    });
                    return Ok(());
                }
                if attr.is_complex() {
                    return self.merge_complex(resolved, value, label);
                }
                let coerced = self.cx.coerce_scalar(attr, value, label)?;
                if coerced.is_none() && attr.required {
                    return Err(ScimError::invalid_value(format!("{label} is required and cannot be empty")));
                }
                with_container(&mut self.data, resolved, |c| match coerced {
                    Some(v) => {
                        c.insert(name.clone(), v);
                    }
                    None => {
                        c.remove(&name);
                    }
                });
                Ok(())
            }
        }
    }

    /// add/replace on a single-valued complex attribute: merge the given sub-attributes
    /// into the existing ones (RFC 7644 §3.5.2.3, C-5); an empty identifying `value`
    /// unassigns the whole attribute (F-8).
    fn merge_complex(&mut self, resolved: &Resolved<'_>, value: &Value, label: &str) -> Result<(), ScimError> {
        let attr = resolved.attr;
        let mut updates: Vec<(String, Option<Value>)> = Vec::new();
        let mut unassign_all = false;
        match value {
            Value::Object(given) => {
                for (key, v) in given {
                    let Some(sub) = attr.sub(key) else {
                        self.cx.unknown(&format!("{label}.{key}"))?;
                        continue;
                    };
                    if is_server_owned(attr, sub) {
                        continue;
                    }
                    let coerced = self.cx.coerce_scalar(sub, v, &format!("{label}.{}", sub.name))?;
                    if sub.name == "value" && coerced.is_none() {
                        unassign_all = true;
                    }
                    updates.push((sub.name.clone(), coerced));
                }
            }
            other => match self.cx.coerce_single(attr, other, label)? {
                Some(Value::Object(obj)) => updates.extend(obj.into_iter().map(|(k, v)| (k, Some(v)))),
                _ => unassign_all = true,
            },
        }
        let name = attr.name.clone();
        with_container(&mut self.data, resolved, |c| {
            if unassign_all {
                c.remove(&name);
                return;
            }
            let entry = c.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(obj) = entry {
                for (k, v) in updates {
                    match v {
                        Some(v) => {
                            obj.insert(k, v);
                        }
                        None => {
                            obj.remove(&k);
                        }
                    }
                }
                order_subs(obj, attr);
            }
            prune_empty(c, &name);
        });
        Ok(())
    }

    /// `op` on `attr.sub` without a filter: the single object, or every element.
    fn set_sub_everywhere(
        &mut self,
        op: OpKind,
        resolved: &Resolved<'_>,
        sub: &AttributeDef,
        value: Option<&Value>,
        label: &str,
    ) -> Result<(), ScimError> {
        let attr = resolved.attr;
        if !attr.multi_valued {
            if op == OpKind::Remove {
                let (name, sub_name) = (attr.name.clone(), sub.name.clone());
                with_container(&mut self.data, resolved, |c| {
                    if let Some(Value::Object(o)) = c.get_mut(&name) {
                        o.remove(&sub_name);
                    }
                    prune_empty(c, &name);
                });
                return Ok(());
            }
            let mut obj = Map::new();
            obj.insert(sub.name.clone(), value.cloned().unwrap_or(Value::Null));
            return self.merge_complex(resolved, &Value::Object(obj), label);
        }
        let coerced = match op {
            OpKind::Remove => None,
            _ => self.cx.coerce_scalar(sub, value.unwrap_or(&Value::Null), &format!("{label}.{}", sub.name))?,
        };
        let (name, sub_name) = (attr.name.clone(), sub.name.clone());
        with_container(&mut self.data, resolved, |c| {
            let entry = c.entry(name.clone()).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = entry {
                if items.is_empty() {
                    if let Some(v) = &coerced {
                        let mut o = Map::new();
                        o.insert(sub_name.clone(), v.clone());
                        items.push(Value::Object(o));
                    }
                } else {
                    for item in items.iter_mut() {
                        if let Value::Object(o) = item {
                            match &coerced {
                                Some(v) => {
                                    o.insert(sub_name.clone(), v.clone());
                                }
                                None => {
                                    o.remove(&sub_name);
                                }
                            }
                            order_subs(o, attr);
                        }
                    }
                    items.retain(|i| !is_unassigned(i));
                    // P9: `primary: true` set on every element stays on the first one only.
                    if sub_name == "primary" {
                        fix_primary(items, &[0]);
                    }
                    dedupe_elements(items);
                }
            }
            prune_empty(c, &name);
        });
        Ok(())
    }

    /// `op` on `attr[filter]` or `attr[filter].sub`.
    fn set_filtered(
        &mut self,
        op: OpKind,
        resolved: &Resolved<'_>,
        filter: &ValidFilter,
        sub: Option<&AttributeDef>,
        value: Option<&Value>,
        label: &str,
    ) -> Result<(), ScimError> {
        let attr = resolved.attr;
        let current = crate::resource::container(&self.data, resolved).and_then(|c| c.get(&attr.name)).cloned();
        // A single-valued complex attribute is filtered as a one-element list (A18.5 #30).
        let mut items: Vec<Value> = match current {
            Some(Value::Array(items)) => items,
            Some(obj @ Value::Object(_)) => vec![obj],
            _ => Vec::new(),
        };
        let matching: Vec<usize> =
            items.iter().enumerate().filter(|(_, e)| filter.matches_element(e)).map(|(i, _)| i).collect();
        let mut touched = Vec::new();
        match op {
            OpKind::Remove => match sub {
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !matching.contains(&i);
                        i += 1;
                        keep
                    });
                }
                Some(sub) => {
                    for &i in &matching {
                        if let Some(Value::Object(o)) = items.get_mut(i) {
                            o.remove(&sub.name);
                        }
                    }
                    items.retain(|e| !is_unassigned(e));
                    dedupe_elements(&mut items);
                }
            },
            OpKind::Add | OpKind::Replace => {
                let value = value.unwrap_or(&Value::Null);
                // The element (or the sub-attribute value) the op writes, coerced up front.
                let new_sub = match sub {
                    Some(sub) => Some(self.cx.coerce_scalar(sub, value, &format!("{label}.{}", sub.name))?),
                    None => None,
                };
                let new_element = match sub {
                    None => Some(self.cx.coerce_single(attr, value, label)?),
                    Some(_) => None,
                };
                let mut targets = matching.clone();
                if targets.is_empty() {
                    if !attr.multi_valued {
                        return Ok(());
                    }
                    // F-6: an `eq`-only filter describes the element; create it.
                    let Some(pairs) = filter.eq_pairs() else {
                        return Err(ScimError::no_target(format!("no value of {label} matches the filter")));
                    };
                    let mut element = Map::new();
                    for (k, v) in pairs {
                        if let Some(def) = attr.sub(&k)
                            && let Some(v) = self.cx.coerce_scalar(def, &v, &format!("{label}.{k}"))?
                        {
                            element.insert(def.name.clone(), v);
                        }
                    }
                    self.cx.notes.add(Rule::ValuePathUpsert, label);
                    items.push(Value::Object(element));
                    targets.push(items.len() - 1);
                }
                for &i in &targets {
                    let Some(Value::Object(element)) = items.get_mut(i) else {
                        continue;
                    };
                    match (sub, &new_sub, &new_element) {
                        (Some(sub), Some(v), _) => match v {
                            Some(v) => {
                                element.insert(sub.name.clone(), v.clone());
                            }
                            None => {
                                element.remove(&sub.name);
                            }
                        },
                        (None, _, Some(Some(Value::Object(new)))) => {
                            if op == OpKind::Replace {
                                // Keep the filter's identifying pairs if the new value omits them.
                                let mut replaced = new.clone();
                                for (k, _) in filter.eq_pairs().unwrap_or_default() {
                                    if let Some(orig) = element.get(&k) {
                                        replaced.entry(k).or_insert_with(|| orig.clone());
                                    }
                                }
                                *element = replaced;
                            } else {
                                for (k, v) in new {
                                    element.insert(k.clone(), v.clone());
                                }
                            }
                        }
                        (None, _, Some(None)) if op == OpKind::Replace => {
                            element.clear();
                        }
                        _ => {}
                    }
                    order_subs(element, attr);
                    touched.push(i);
                }
                // Indices shift when empties and duplicates are dropped; recompute by identity.
                let touched_values: Vec<Value> = touched.iter().filter_map(|&i| items.get(i).cloned()).collect();
                items.retain(|e| !is_unassigned(e));
                if attr.multi_valued {
                    dedupe_elements(&mut items);
                    let touched: Vec<usize> =
                        items.iter().enumerate().filter(|(_, e)| touched_values.contains(e)).map(|(i, _)| i).collect();
                    fix_primary(&mut items, &touched);
                    // Clearing a `primary` can make two elements equal.
                    dedupe_elements(&mut items);
                }
            }
        }
        let name = attr.name.clone();
        let multi = attr.multi_valued;
        with_container(&mut self.data, resolved, |c| {
            let new_value = if multi { Value::Array(items) } else { items.into_iter().next().unwrap_or(Value::Null) };
            c.insert(name.clone(), new_value);
            prune_empty(c, &name);
        });
        Ok(())
    }

    /// F-4: `remove` of a multi-valued attribute with a value list removes exactly the
    /// listed values (by their `value` sub-attribute when given, else by equality).
    fn remove_listed(&mut self, resolved: &Resolved<'_>, value: &Value, label: &str) -> Result<(), ScimError> {
        let attr = resolved.attr;
        let given: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        if given.is_empty() {
            return Ok(());
        }
        self.cx.notes.add(Rule::ValueListRemoval, label);
        let mut targets: Vec<Value> = Vec::new();
        for g in given {
            if let Some(v) = self.cx.coerce_single(attr, g, label)? {
                targets.push(v);
            }
        }
        let value_case_exact = attr.sub("value").is_some_and(|s| s.case_exact);
        let name = attr.name.clone();
        with_container(&mut self.data, resolved, |c| {
            if let Some(Value::Array(items)) = c.get_mut(&name) {
                items.retain(|item| {
                    !targets.iter().any(|t| {
                        match (t.get("value").and_then(Value::as_str), item.get("value").and_then(Value::as_str)) {
                            (Some(tv), Some(iv)) => text::text_eq(tv, iv, value_case_exact),
                            _ => t == item,
                        }
                    })
                });
            }
            prune_empty(c, &name);
        });
        Ok(())
    }

    /// Group membership operations become [`MemberOp`]s.
    fn apply_members(
        &mut self,
        op: OpKind,
        filter: Option<ValidFilter>,
        sub: Option<&AttributeDef>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if let Some(sub) = sub {
            return Err(ScimError::mutability(format!(
                "members.{} is immutable; remove the member and add it again instead",
                sub.name
            )));
        }
        let member_op = match (op, filter) {
            (OpKind::Add, None) => MemberOp::Add(parse_members(value.unwrap_or(&Value::Null), "members")?),
            (OpKind::Replace, None) => MemberOp::Replace(parse_members(value.unwrap_or(&Value::Null), "members")?),
            (OpKind::Remove, None) => match value {
                Some(v) if !v.is_null() => {
                    let ids: Vec<String> = parse_members(v, "members")?.into_iter().map(|m| m.value).collect();
                    self.cx.notes.add(Rule::ValueListRemoval, "members");
                    MemberOp::Remove(ids)
                }
                _ => MemberOp::Replace(Vec::new()),
            },
            (OpKind::Remove, Some(filter)) => match member_ids(&filter) {
                Some(ids) => MemberOp::Remove(ids),
                None => MemberOp::RemoveWhere(filter),
            },
            (OpKind::Add, Some(_)) => {
                return Err(ScimError::invalid_path(
                    "add to members takes a list of members as its value, not a filter",
                ));
            }
            (OpKind::Replace, Some(_)) => {
                return Err(ScimError::mutability(
                    "a member's sub-attributes are immutable; remove the member and add the new one instead",
                ));
            }
        };
        let empty = matches!(&member_op, MemberOp::Add(v) if v.is_empty())
            || matches!(&member_op, MemberOp::Remove(v) if v.is_empty());
        if !empty {
            self.member_ops.push(member_op);
        }
        Ok(())
    }
}

/// The ids of a `value eq "a" or value eq "b"` member filter.
fn member_ids(filter: &ValidFilter) -> Option<Vec<String>> {
    match filter {
        ValidFilter::Compare(attr, crate::filter::CompareOp::Eq, Literal::String(id))
            if attr.sub.as_deref() == Some("value") =>
        {
            Some(vec![id.clone()])
        }
        ValidFilter::Or(terms) => {
            let mut out = Vec::new();
            for t in terms {
                out.extend(member_ids(t)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// Adds `new` to a multi-valued attribute unless an equal element exists; an element with
/// the same `value` and `type` absorbs the new fields (F-5). Returns the index touched.
fn merge_element(items: &mut Vec<Value>, new: Value, is_complex: bool) -> usize {
    if let Some(i) = items.iter().position(|e| *e == new) {
        return i;
    }
    if is_complex {
        let identity = |v: &Value| (v.get("value").cloned(), v.get("type").cloned());
        if new.get("value").is_some()
            && let Some(i) = items.iter().position(|e| identity(e) == identity(&new))
        {
            if let (Some(Value::Object(existing)), Value::Object(fields)) = (items.get_mut(i), &new) {
                for (k, v) in fields {
                    existing.insert(k.clone(), v.clone());
                }
            }
            return i;
        }
    }
    items.push(new);
    items.len() - 1
}

/// P9: when an element the operation touched is `primary`, every other loses it.
fn fix_primary(items: &mut [Value], touched: &[usize]) {
    let Some(&keep) =
        touched.iter().rev().find(|&&i| items.get(i).and_then(|e| e.get("primary")) == Some(&Value::Bool(true)))
    else {
        return;
    };
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep
            && item.get("primary") == Some(&Value::Bool(true))
            && let Value::Object(o) = item
        {
            o.insert("primary".into(), Value::Bool(false));
        }
    }
}

/// Puts a complex value's sub-attributes in schema order.
fn order_subs(obj: &mut Map<String, Value>, attr: &AttributeDef) {
    let mut ordered = Map::new();
    for sub in &attr.sub_attributes {
        if let Some(v) = obj.remove(&sub.name)
            && !is_unassigned(&v)
        {
            ordered.insert(sub.name.clone(), v);
        }
    }
    *obj = ordered;
}
