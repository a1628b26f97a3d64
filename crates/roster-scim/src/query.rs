//! Filters resolved against a schema ([`ValidFilter`]), their in-memory evaluation
//! (RFC 7644 §3.4.2.2), and sort keys (§3.4.2.3).
//!
//! Resolution is where a filter's meaning is fixed: attribute names become canonical,
//! comparisons get the target attribute's type and `caseExact`, literals are converted
//! (string booleans per F-2/FS8, dateTimes parsed), complex attributes compared without a
//! sub-attribute compare their `value` (F-14), and every combination Roster cannot answer
//! exactly becomes `400 invalidFilter` here rather than a wrong answer later. The storage
//! layer compiles the same tree to SQL, so both paths share these semantics.

use std::cmp::Ordering;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::ScimError;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::schema::{AttrType, AttributeDef, Registry, Resolved, ResourceKind, Returned};
use crate::text;

/// A resolved attribute reference.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrRef {
    /// The extension URN holding the attribute, `None` for core and common attributes.
    pub extension: Option<String>,
    /// The canonical attribute name.
    pub name: String,
    /// The canonical sub-attribute name (`value` when implied, F-14).
    pub sub: Option<String>,
    /// The type of the values compared.
    pub ty: AttrType,
    /// `caseExact` of the values compared.
    pub case_exact: bool,
    /// Whether the (top-level) attribute is multi-valued.
    pub multi_valued: bool,
}

impl AttrRef {
    fn from_resolved(r: &Resolved<'_>, sub: Option<&AttributeDef>) -> AttrRef {
        let target = sub.or(r.sub).unwrap_or(r.attr);
        AttrRef {
            extension: r.extension_urn().map(str::to_string),
            name: r.attr.name.clone(),
            sub: sub.or(r.sub).map(|s| s.name.clone()),
            ty: target.ty,
            case_exact: target.case_exact,
            multi_valued: r.attr.multi_valued,
        }
    }

    /// The canonical path, `urn:...:name.sub` for extension attributes.
    pub fn path(&self) -> String {
        let mut out = String::new();
        if let Some(urn) = &self.extension {
            out.push_str(urn);
            out.push(':');
        }
        out.push_str(&self.name);
        if let Some(sub) = &self.sub {
            out.push('.');
            out.push_str(sub);
        }
        out
    }

    /// The values this reference selects in a rendered resource, flattened over multiple
    /// values. Unassigned values are skipped.
    pub fn values<'v>(&self, resource: &'v Map<String, Value>) -> Vec<&'v Value> {
        let container = match &self.extension {
            None => Some(resource),
            Some(urn) => resource.get(urn).and_then(Value::as_object),
        };
        let Some(top) = container.and_then(|c| c.get(&self.name)) else {
            return Vec::new();
        };
        let elements: Vec<&Value> = match top {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut out = Vec::with_capacity(elements.len());
        for element in elements {
            let v = match &self.sub {
                Some(sub) => element.get(sub.as_str()),
                None => Some(element),
            };
            if let Some(v) = v
                && !crate::resource::is_unassigned(v)
            {
                out.push(v);
            }
        }
        out
    }

    /// The value of `sub` within one element of a multi-valued complex attribute.
    fn element_value<'v>(&self, element: &'v Value) -> Option<&'v Value> {
        let v = match &self.sub {
            Some(sub) => element.get(sub.as_str()),
            None => Some(element),
        }?;
        (!crate::resource::is_unassigned(v)).then_some(v)
    }
}

/// A comparison literal converted to the attribute's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Bool(bool),
    Integer(i64),
    Decimal(f64),
    String(String),
    DateTime(OffsetDateTime),
}

/// A filter whose attributes are resolved and whose literals are typed.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidFilter {
    /// A constant: what a filter on an attribute the resource type lacks evaluates to at
    /// the root endpoint (FS7), after folding.
    Const(bool),
    /// `attr pr`: at least one non-empty value.
    Present(AttrRef),
    /// `attr op literal`; `ne` is stored as `Not(Compare(eq))`, so it matches absence too.
    Compare(AttrRef, CompareOp, Literal),
    /// `attr[filter]`: one element of `attr` satisfies `filter`, whose references (to
    /// sub-attributes of the same attribute) are read from that element.
    ValuePath(AttrRef, Box<ValidFilter>),
    And(Vec<ValidFilter>),
    Or(Vec<ValidFilter>),
    Not(Box<ValidFilter>),
}

/// What a filter on an attribute the resource type does not define means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownFilterAttribute {
    /// 400 `invalidFilter` (on `/Users` and `/Groups`; INTEROP §6.3).
    Reject,
    /// No value (on root queries across resource types; RFC 7644 §3.4.2.2).
    Absent,
}

impl Registry {
    /// Resolves and type-checks a parsed filter for `kind`.
    pub fn check_filter(
        &self,
        kind: ResourceKind,
        filter: &Filter,
        unknown: UnknownFilterAttribute,
    ) -> Result<ValidFilter, ScimError> {
        Checker { registry: self, kind, unknown }.check(filter, None).map(simplify)
    }

    /// Parses and checks a filter string for `kind` in one step.
    pub fn parse_filter(&self, kind: ResourceKind, input: &str) -> Result<ValidFilter, ScimError> {
        let filter = Filter::parse_with(input, self.known_urns(), crate::filter::ParseLimits::default())
            .map_err(crate::filter::FilterError::into_filter_error)?;
        self.check_filter(kind, &filter, UnknownFilterAttribute::Reject)
    }

    /// Resolves the filter of a PATCH value path (`emails[type eq "work"]`) against the
    /// sub-attributes of the attribute it filters.
    pub fn check_element_filter(
        &self,
        kind: ResourceKind,
        parent: Resolved<'_>,
        filter: &Filter,
    ) -> Result<ValidFilter, ScimError> {
        let checker = Checker { registry: self, kind, unknown: UnknownFilterAttribute::Reject };
        checker.check(filter, Some(&Parent { resolved: parent })).map(simplify)
    }

    /// Resolves a `sortBy` path (RFC 7644 §3.4.2.3): a simple attribute or a sub-attribute;
    /// a complex attribute without sub-attribute sorts by its `value` when it has one.
    pub fn check_sort(&self, kind: ResourceKind, sort_by: &str) -> Result<AttrRef, ScimError> {
        let bad = |why: String| ScimError::invalid_value(format!("cannot sort by {sort_by:?}: {why}"));
        let path = match crate::filter::PatchPath::parse_with(sort_by, self.known_urns()) {
            Ok(crate::filter::PatchPath::Attr(path)) => path,
            Ok(_) => return Err(bad("name an attribute or sub-attribute".into())),
            Err(e) => return Err(bad(e.to_string())),
        };
        let resolved = self.resolve(kind, &path).map_err(|e| bad(e.to_string()))?;
        if resolved.target().returned == Returned::Never {
            return Err(bad("the attribute is never returned".into()));
        }
        let sub = match resolved.sub {
            Some(s) => Some(s),
            None if resolved.attr.is_complex() => {
                Some(resolved.attr.sub("value").ok_or_else(|| bad("name one of its sub-attributes".into()))?)
            }
            None => None,
        };
        Ok(AttrRef::from_resolved(&resolved, sub))
    }
}

struct Checker<'a> {
    registry: &'a Registry,
    kind: ResourceKind,
    unknown: UnknownFilterAttribute,
}

/// The parent of a value filter: paths inside it name its sub-attributes.
struct Parent<'r> {
    resolved: Resolved<'r>,
}

impl Checker<'_> {
    fn check(&self, filter: &Filter, parent: Option<&Parent<'_>>) -> Result<ValidFilter, ScimError> {
        Ok(match filter {
            Filter::And(terms) => {
                ValidFilter::And(terms.iter().map(|t| self.check(t, parent)).collect::<Result<_, _>>()?)
            }
            Filter::Or(terms) => {
                ValidFilter::Or(terms.iter().map(|t| self.check(t, parent)).collect::<Result<_, _>>()?)
            }
            Filter::Not(inner) => ValidFilter::Not(Box::new(self.check(inner, parent)?)),
            Filter::Present(path) => match self.resolve(path, parent)? {
                None => ValidFilter::Const(false),
                Some((resolved, sub)) => ValidFilter::Present(AttrRef::from_resolved(&resolved, sub)),
            },
            Filter::Compare { path, op, value } => self.check_compare(path, *op, value, parent)?,
            Filter::ValuePath { path, filter } => {
                let Some((resolved, _)) = self.resolve(path, None)? else {
                    return Ok(ValidFilter::Const(false));
                };
                if !resolved.attr.is_complex() || resolved.sub.is_some() {
                    return Err(ScimError::invalid_filter(format!(
                        "{path}[...] needs a complex attribute; {} is not one",
                        resolved.canonical_path()
                    )));
                }
                let inner = self.check(filter, Some(&Parent { resolved }))?;
                ValidFilter::ValuePath(AttrRef::from_resolved(&resolved, None), Box::new(inner))
            }
        })
    }

    /// Resolves a path (relative to `parent` inside a value filter). `None` means "not
    /// defined, treat as absent" at the root.
    fn resolve<'r>(
        &'r self,
        path: &AttrPath,
        parent: Option<&Parent<'r>>,
    ) -> Result<Option<(Resolved<'r>, Option<&'r AttributeDef>)>, ScimError> {
        let resolved = match parent {
            Some(parent) => {
                let sub = parent.resolved.attr.sub(&path.name);
                match sub {
                    Some(sub) => Resolved { sub: Some(sub), ..parent.resolved },
                    None => {
                        return Err(ScimError::invalid_filter(format!(
                            "{} has no sub-attribute {:?}",
                            parent.resolved.canonical_path(),
                            path.name
                        )));
                    }
                }
            }
            None => match self.registry.resolve(self.kind, path) {
                Ok(r) => r,
                Err(e) => {
                    return match self.unknown {
                        UnknownFilterAttribute::Absent => Ok(None),
                        UnknownFilterAttribute::Reject => {
                            Err(ScimError::invalid_filter(format!("cannot filter on {path}: {e}")))
                        }
                    };
                }
            },
        };
        if resolved.attr.returned == Returned::Never || resolved.target().returned == Returned::Never {
            return Err(ScimError::invalid_filter(format!(
                "cannot filter on {}: it is never returned",
                resolved.canonical_path()
            )));
        }
        Ok(Some((resolved, None)))
    }

    fn check_compare(
        &self,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
        parent: Option<&Parent<'_>>,
    ) -> Result<ValidFilter, ScimError> {
        let Some((resolved, _)) = self.resolve(path, parent)? else {
            // An undefined attribute has no value: only `ne` (and `eq null`) match.
            return Ok(ValidFilter::Const(matches!(op, CompareOp::Ne) != matches!(value, CompValue::Null)));
        };
        let target = resolved.target();
        let compared = if target.is_complex() {
            let value_sub = target.sub("value").ok_or_else(|| {
                ScimError::invalid_filter(format!(
                    "compare a sub-attribute of {}, e.g. {}.{}",
                    resolved.canonical_path(),
                    path,
                    target.sub_attributes.first().map_or("value", |s| s.name.as_str())
                ))
            })?;
            AttrRef::from_resolved(&resolved, Some(value_sub))
        } else {
            AttrRef::from_resolved(&resolved, None)
        };
        // FS9: `eq null` is "unassigned", `ne null` is `pr`.
        if matches!(value, CompValue::Null) {
            let present = ValidFilter::Present(compared);
            return match op {
                CompareOp::Eq => Ok(ValidFilter::Not(Box::new(present))),
                CompareOp::Ne => Ok(present),
                _ => Err(ScimError::invalid_filter(format!("'{op} null' is not a comparison Roster can answer"))),
            };
        }
        let literal = literal_for(&compared, op, value, path)?;
        Ok(match op {
            CompareOp::Ne => ValidFilter::Not(Box::new(ValidFilter::Compare(compared, CompareOp::Eq, literal))),
            op => ValidFilter::Compare(compared, op, literal),
        })
    }
}

/// Converts a literal to the compared attribute's type (FS4, FS8).
fn literal_for(attr: &AttrRef, op: CompareOp, value: &CompValue, path: &AttrPath) -> Result<Literal, ScimError> {
    let mismatch =
        |expected: &str| ScimError::invalid_filter(format!("{path} is {expected}; {value} cannot be compared with it"));
    if op.is_substring() && !attr.ty.is_textual() {
        return Err(ScimError::invalid_filter(format!(
            "'{op}' needs a string attribute; {path} is {}",
            attr.ty.as_str()
        )));
    }
    Ok(match attr.ty {
        AttrType::Boolean => {
            if op.is_ordering() {
                return Err(ScimError::invalid_filter(format!("'{op}' cannot order booleans ({path})")));
            }
            match value {
                CompValue::Bool(b) => Literal::Bool(*b),
                CompValue::String(s) if s.eq_ignore_ascii_case("true") => Literal::Bool(true),
                CompValue::String(s) if s.eq_ignore_ascii_case("false") => Literal::Bool(false),
                _ => return Err(mismatch("a boolean")),
            }
        }
        AttrType::Integer | AttrType::Decimal => {
            let number = match value {
                CompValue::Number(n) => n.clone(),
                CompValue::String(s) => {
                    serde_json::from_str::<serde_json::Number>(s.trim()).map_err(|_| mismatch("a number"))?
                }
                _ => return Err(mismatch("a number")),
            };
            match number.as_i64() {
                Some(i) if attr.ty == AttrType::Integer => Literal::Integer(i),
                _ => Literal::Decimal(number.as_f64().ok_or_else(|| mismatch("a number"))?),
            }
        }
        AttrType::DateTime => match value {
            CompValue::String(s) => Literal::DateTime(text::parse_datetime(s).ok_or_else(|| mismatch("a dateTime"))?),
            _ => return Err(mismatch("a dateTime")),
        },
        AttrType::Binary if op.is_ordering() => {
            return Err(ScimError::invalid_filter(format!("'{op}' cannot order binary values ({path})")));
        }
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            CompValue::String(s) => Literal::String(s.clone()),
            CompValue::Number(n) => Literal::String(n.to_string()),
            CompValue::Bool(b) => Literal::String(b.to_string()),
            CompValue::Null => return Err(mismatch("a string")),
        },
        AttrType::Complex => return Err(mismatch("complex")),
    })
}

/// Folds constants and single-term groups.
fn simplify(f: ValidFilter) -> ValidFilter {
    match f {
        ValidFilter::And(terms) => {
            let mut out = Vec::with_capacity(terms.len());
            for t in terms.into_iter().map(simplify) {
                match t {
                    ValidFilter::Const(true) => {}
                    ValidFilter::Const(false) => return ValidFilter::Const(false),
                    ValidFilter::And(inner) => out.extend(inner),
                    t => out.push(t),
                }
            }
            match out.len() {
                0 => ValidFilter::Const(true),
                1 => out.pop().unwrap_or(ValidFilter::Const(true)),
                _ => ValidFilter::And(out),
            }
        }
        ValidFilter::Or(terms) => {
            let mut out = Vec::with_capacity(terms.len());
            for t in terms.into_iter().map(simplify) {
                match t {
                    ValidFilter::Const(false) => {}
                    ValidFilter::Const(true) => return ValidFilter::Const(true),
                    ValidFilter::Or(inner) => out.extend(inner),
                    t => out.push(t),
                }
            }
            match out.len() {
                0 => ValidFilter::Const(false),
                1 => out.pop().unwrap_or(ValidFilter::Const(false)),
                _ => ValidFilter::Or(out),
            }
        }
        ValidFilter::Not(inner) => match simplify(*inner) {
            ValidFilter::Const(b) => ValidFilter::Const(!b),
            ValidFilter::Not(inner) => *inner,
            other => ValidFilter::Not(Box::new(other)),
        },
        ValidFilter::ValuePath(attr, inner) => match simplify(*inner) {
            ValidFilter::Const(false) => ValidFilter::Const(false),
            ValidFilter::Const(true) => ValidFilter::Present(attr),
            inner => ValidFilter::ValuePath(attr, Box::new(inner)),
        },
        leaf => leaf,
    }
}

impl ValidFilter {
    /// Evaluates the filter against a rendered resource (`schemas`, `id`, `meta` and the
    /// derived `members`/`groups` included).
    pub fn matches(&self, resource: &Map<String, Value>) -> bool {
        match self {
            ValidFilter::Const(b) => *b,
            ValidFilter::Present(attr) => !attr.values(resource).is_empty(),
            ValidFilter::Compare(attr, op, lit) => attr.values(resource).iter().any(|v| compare(v, attr, *op, lit)),
            ValidFilter::And(terms) => terms.iter().all(|t| t.matches(resource)),
            ValidFilter::Or(terms) => terms.iter().any(|t| t.matches(resource)),
            ValidFilter::Not(inner) => !inner.matches(resource),
            ValidFilter::ValuePath(attr, inner) => {
                element_candidates(attr, resource).into_iter().any(|e| inner.matches_element(e))
            }
        }
    }

    /// Evaluates a value-filter body against one element of its attribute.
    pub fn matches_element(&self, element: &Value) -> bool {
        match self {
            ValidFilter::Const(b) => *b,
            ValidFilter::Present(attr) => attr.element_value(element).is_some(),
            ValidFilter::Compare(attr, op, lit) => {
                attr.element_value(element).is_some_and(|v| compare(v, attr, *op, lit))
            }
            ValidFilter::And(terms) => terms.iter().all(|t| t.matches_element(element)),
            ValidFilter::Or(terms) => terms.iter().any(|t| t.matches_element(element)),
            ValidFilter::Not(inner) => !inner.matches_element(element),
            // The parser never nests value filters.
            ValidFilter::ValuePath(..) => false,
        }
    }

    /// If the filter is a conjunction of `eq` comparisons (F-6), the sub-attribute/value
    /// pairs it names, for creating the element it describes.
    pub fn eq_pairs(&self) -> Option<Vec<(String, Value)>> {
        fn collect(f: &ValidFilter, out: &mut Vec<(String, Value)>) -> bool {
            match f {
                ValidFilter::Compare(attr, CompareOp::Eq, lit) => {
                    let Some(sub) = &attr.sub else { return false };
                    let value = match lit {
                        Literal::Bool(b) => Value::Bool(*b),
                        Literal::Integer(i) => Value::from(*i),
                        Literal::Decimal(d) => serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
                        Literal::String(s) => Value::String(s.clone()),
                        Literal::DateTime(t) => Value::String(text::format_datetime(*t)),
                    };
                    out.push((sub.clone(), value));
                    true
                }
                ValidFilter::And(terms) => terms.iter().all(|t| collect(t, out)),
                _ => false,
            }
        }
        let mut out = Vec::new();
        collect(self, &mut out).then_some(out)
    }
}

/// The elements a value filter looks at: each element of a multi-valued attribute, or the
/// single object of a single-valued complex one (`manager[value eq "x"]`).
fn element_candidates<'v>(attr: &AttrRef, resource: &'v Map<String, Value>) -> Vec<&'v Value> {
    let container = match &attr.extension {
        None => Some(resource),
        Some(urn) => resource.get(urn).and_then(Value::as_object),
    };
    match container.and_then(|c| c.get(&attr.name)) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(obj @ Value::Object(_)) => vec![obj],
        _ => Vec::new(),
    }
}

/// Compares one stored value with a literal.
pub(crate) fn compare(stored: &Value, attr: &AttrRef, op: CompareOp, lit: &Literal) -> bool {
    match lit {
        Literal::Bool(b) => stored.as_bool().is_some_and(|s| match op {
            CompareOp::Eq => s == *b,
            CompareOp::Ne => s != *b,
            _ => false,
        }),
        Literal::Integer(i) => match (stored.as_i64(), stored.as_f64()) {
            (Some(s), _) => ordering_matches(s.cmp(i), op),
            (None, Some(s)) => s.partial_cmp(&(*i as f64)).is_some_and(|o| ordering_matches(o, op)),
            _ => false,
        },
        Literal::Decimal(d) => stored.as_f64().and_then(|s| s.partial_cmp(d)).is_some_and(|o| ordering_matches(o, op)),
        Literal::DateTime(t) => {
            stored.as_str().and_then(text::parse_datetime).is_some_and(|s| ordering_matches(s.cmp(t), op))
        }
        Literal::String(lit) => {
            let Some(s) = stored.as_str() else {
                return false;
            };
            let s = text::compare_key(s, attr.case_exact);
            let lit = text::compare_key(lit, attr.case_exact);
            match op {
                CompareOp::Co => s.contains(lit.as_ref()),
                CompareOp::Sw => s.starts_with(lit.as_ref()),
                CompareOp::Ew => s.ends_with(lit.as_ref()),
                op => ordering_matches(s.as_ref().cmp(lit.as_ref()), op),
            }
        }
    }
}

fn ordering_matches(o: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// A sortable key of one resource for `attr` (RFC 7644 §3.4.2.3): the `primary` value of a
/// multi-valued attribute, else its first value; text folded unless caseExact.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum SortKey {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl AttrRef {
    /// The sort key of a rendered resource, `None` when it has no value.
    pub fn sort_key(&self, resource: &Map<String, Value>) -> Option<SortKey> {
        let container = match &self.extension {
            None => Some(resource),
            Some(urn) => resource.get(urn).and_then(Value::as_object),
        }?;
        let top = container.get(&self.name)?;
        let chosen = match top {
            Value::Array(items) => {
                items.iter().find(|e| e.get("primary") == Some(&Value::Bool(true))).or_else(|| items.first())?
            }
            other => other,
        };
        let v = match &self.sub {
            Some(sub) => chosen.get(sub.as_str())?,
            None => chosen,
        };
        match (v, self.ty) {
            (Value::Bool(b), _) => Some(SortKey::Bool(*b)),
            (Value::Number(n), _) => n.as_f64().map(SortKey::Number),
            (Value::String(s), AttrType::DateTime) => {
                text::parse_datetime(s).map(|t| SortKey::Text(text::sortable_datetime(t)))
            }
            (Value::String(s), _) if s.is_empty() => None,
            (Value::String(s), _) => Some(SortKey::Text(text::compare_key(s, self.case_exact).into_owned())),
            _ => None,
        }
    }
}

/// Orders two optional sort keys: missing values last when ascending, first when
/// descending (RFC 7644 §3.4.2.3).
pub fn compare_sort_keys(a: Option<&SortKey>, b: Option<&SortKey>, ascending: bool) -> Ordering {
    let o = match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    };
    if ascending { o } else { o.reverse() }
}
