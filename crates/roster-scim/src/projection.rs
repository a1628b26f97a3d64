//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9), honouring each
//! attribute's `returned` characteristic: `always` survives exclusion, `never` is never
//! shown, `request` only when asked for by name.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::PatchPath;
use crate::schema::{AttributeDef, Registry, ResourceKind, Returned};

/// One selected attribute: its container (`None` = top level), name and sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    extension: Option<String>,
    /// `None` selects the whole extension object.
    name: Option<String>,
    sub: Option<String>,
}

/// A parsed projection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Projection {
    include: Option<Vec<Selector>>,
    exclude: Vec<Selector>,
}

/// Splits a comma-separated attribute list (errata 7898), dropping empty items.
pub fn split_attribute_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

impl Projection {
    /// Everything with `returned: default` or `always`.
    pub fn all() -> Projection {
        Projection::default()
    }

    /// Parses the two lists. Giving both is refused (DECISION A15.1); names Roster does not
    /// know select nothing (A15.7).
    pub fn parse(
        registry: &Registry,
        kind: ResourceKind,
        attributes: &[String],
        excluded: &[String],
    ) -> Result<Projection, ScimError> {
        if !attributes.is_empty() && !excluded.is_empty() {
            return Err(ScimError::invalid_value("attributes and excludedAttributes cannot be used together"));
        }
        let resolve = |items: &[String]| items.iter().filter_map(|s| selector(registry, kind, s)).collect::<Vec<_>>();
        Ok(Projection { include: (!attributes.is_empty()).then(|| resolve(attributes)), exclude: resolve(excluded) })
    }

    /// Whether a top-level attribute will be in the output at all: lets storage skip
    /// loading `members`/`groups` that would be thrown away.
    pub fn includes(&self, registry: &Registry, kind: ResourceKind, name: &str) -> bool {
        let Some(def) = registry.core(kind).attribute(name) else {
            return true;
        };
        self.keeps_attr(None, def).is_some()
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, registry: &Registry, kind: ResourceKind, resource: &Map<String, Value>) -> Map<String, Value> {
        let core = registry.core(kind);
        let common = registry.common();
        let mut out = Map::new();
        for (key, value) in resource {
            if key == "schemas" || key == "id" {
                out.insert(key.clone(), value.clone());
                continue;
            }
            if let Some(ext) = registry.extension(kind, key) {
                let Value::Object(attrs) = value else {
                    continue;
                };
                let mut kept = Map::new();
                for (name, v) in attrs {
                    let Some(def) = ext.attribute(name) else {
                        continue;
                    };
                    if let Some(v) = self.keep(Some(&ext.id), def, v) {
                        kept.insert(name.clone(), v);
                    }
                }
                if !kept.is_empty() {
                    out.insert(key.clone(), Value::Object(kept));
                }
                continue;
            }
            let Some(def) = core.attribute(key).or_else(|| common.attribute(key)) else {
                continue;
            };
            if let Some(v) = self.keep(None, def, value) {
                out.insert(key.clone(), v);
            }
        }
        out
    }

    /// What of `value` (the attribute `def` in `extension`) the projection keeps.
    fn keep(&self, extension: Option<&str>, def: &AttributeDef, value: &Value) -> Option<Value> {
        match self.keeps_attr(extension, def)? {
            Keep::Whole => Some(value.clone()),
            Keep::Subs(subs) => narrow(value, &subs, true),
            Keep::AllBut(subs) => narrow(value, &subs, false),
        }
    }

    fn keeps_attr(&self, extension: Option<&str>, def: &AttributeDef) -> Option<Keep> {
        match def.returned {
            Returned::Never => return None,
            Returned::Always => return Some(Keep::Whole),
            Returned::Default | Returned::Request => {}
        }
        let same_attr = |s: &Selector| {
            s.extension.as_deref().map(str::to_ascii_lowercase) == extension.map(str::to_ascii_lowercase)
                && s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(&def.name))
        };
        let whole_extension = |s: &Selector| {
            s.name.is_none()
                && extension.is_some_and(|e| s.extension.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(e)))
        };
        match &self.include {
            Some(include) => {
                if include.iter().any(|s| (same_attr(s) && s.sub.is_none()) || whole_extension(s)) {
                    return Some(Keep::Whole);
                }
                let subs: Vec<String> = include.iter().filter(|s| same_attr(s)).filter_map(|s| s.sub.clone()).collect();
                if subs.is_empty() { None } else { Some(Keep::Subs(subs)) }
            }
            None => {
                if def.returned == Returned::Request {
                    return None;
                }
                if self.exclude.iter().any(|s| (same_attr(s) && s.sub.is_none()) || whole_extension(s)) {
                    return None;
                }
                let subs: Vec<String> =
                    self.exclude.iter().filter(|s| same_attr(s)).filter_map(|s| s.sub.clone()).collect();
                if subs.is_empty() { Some(Keep::Whole) } else { Some(Keep::AllBut(subs)) }
            }
        }
    }
}

enum Keep {
    Whole,
    Subs(Vec<String>),
    AllBut(Vec<String>),
}

/// Keeps (or drops) the named sub-attributes of a complex value or of each element of a
/// multi-valued one; elements left empty disappear.
fn narrow(value: &Value, subs: &[String], keep_named: bool) -> Option<Value> {
    let narrow_obj = |obj: &Map<String, Value>| -> Option<Value> {
        let kept: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)) == keep_named)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (!kept.is_empty()).then_some(Value::Object(kept))
    };
    match value {
        Value::Object(obj) => narrow_obj(obj),
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(|v| v.as_object().and_then(narrow_obj)).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => Some(other.clone()),
    }
}

fn selector(registry: &Registry, kind: ResourceKind, item: &str) -> Option<Selector> {
    match PatchPath::parse_with(item, registry.known_urns()).ok()? {
        PatchPath::Schema(urn) => {
            let ext = registry.extension(kind, &urn)?;
            Some(Selector { extension: Some(ext.id.clone()), name: None, sub: None })
        }
        PatchPath::Attr(path) => {
            let resolved = registry.resolve(kind, &path).ok()?;
            Some(Selector {
                extension: resolved.extension_urn().map(str::to_string),
                name: Some(resolved.attr.name.clone()),
                sub: resolved.sub.map(|s| s.name.clone()),
            })
        }
        PatchPath::Filtered { .. } => None,
    }
}
