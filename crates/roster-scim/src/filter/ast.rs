//! The syntactic filter AST (RFC 7644 §3.4.2.2) and its canonical printed form.
//!
//! Names keep the case the client wrote; resolution against a schema (and so case
//! folding of names) happens in [`crate::schema::Registry::check_filter`].

use std::fmt;

/// `[URI ":"] ATTRNAME ["." subAttr]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, when the path is fully qualified.
    pub urn: Option<String>,
    /// The attribute name.
    pub name: String,
    /// The sub-attribute name, for `name.givenName`.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path without URN or sub-attribute.
    pub fn simple(name: impl Into<String>) -> Self {
        AttrPath { urn: None, name: name.into(), sub: None }
    }

    /// A path with a sub-attribute.
    pub fn with_sub(name: impl Into<String>, sub: impl Into<String>) -> Self {
        AttrPath { urn: None, name: name.into(), sub: Some(sub.into()) }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// The attribute operators of RFC 7644 Table 3 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// Every operator, in Table 3 order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// Parses an operator keyword, case-insensitively.
    pub fn parse(word: &str) -> Option<CompareOp> {
        CompareOp::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// The canonical (lowercase) keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Whether the operator orders values (and so is meaningless for booleans).
    pub fn is_ordering(self) -> bool {
        matches!(self, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le)
    }

    /// Whether the operator is a substring test.
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison value: a JSON literal (`compValue` of the ABNF).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => {
                // serde_json writes a JSON string literal, escapes included.
                let quoted = serde_json::Value::String(s.clone()).to_string();
                f.write_str(&quoted)
            }
        }
    }
}

/// A SCIM filter expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// `attrPath pr`.
    Present(AttrPath),
    /// `attrPath op value`.
    Compare { path: AttrPath, op: CompareOp, value: CompValue },
    /// `attrPath[valFilter]`: one and the same element of `path` satisfies `filter`
    /// (RFC 7644 §3.4.2.2). Paths inside `filter` are relative to `path`.
    ValuePath { path: AttrPath, filter: Box<Filter> },
    /// Conjunction; the parser flattens `a and b and c` into one node.
    And(Vec<Filter>),
    /// Disjunction; flattened like `And`.
    Or(Vec<Filter>),
    /// `not (filter)`.
    Not(Box<Filter>),
}

impl Filter {
    /// `path eq "value"` for a string value.
    pub fn eq_str(path: AttrPath, value: impl Into<String>) -> Filter {
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::String(value.into()) }
    }

    /// Builds a conjunction, flattening nested conjunctions and unwrapping a single term.
    pub fn and(terms: Vec<Filter>) -> Filter {
        Self::flatten(terms, true)
    }

    /// Builds a disjunction, flattening nested disjunctions and unwrapping a single term.
    pub fn or(terms: Vec<Filter>) -> Filter {
        Self::flatten(terms, false)
    }

    fn flatten(terms: Vec<Filter>, is_and: bool) -> Filter {
        let mut flat = Vec::with_capacity(terms.len());
        for term in terms {
            match term {
                Filter::And(inner) if is_and => flat.extend(inner),
                Filter::Or(inner) if !is_and => flat.extend(inner),
                other => flat.push(other),
            }
        }
        if flat.len() == 1
            && let Some(only) = flat.pop()
        {
            return only;
        }
        if is_and { Filter::And(flat) } else { Filter::Or(flat) }
    }

    /// The number of attribute expressions (`pr` and comparisons) in the filter.
    pub fn term_count(&self) -> usize {
        match self {
            Filter::Present(_) | Filter::Compare { .. } => 1,
            Filter::ValuePath { filter, .. } | Filter::Not(filter) => filter.term_count(),
            Filter::And(terms) | Filter::Or(terms) => terms.iter().map(Filter::term_count).sum(),
        }
    }

    /// Rewrites the tree into the form the parser produces: nested `and`s and `or`s
    /// flattened, single-term groups unwrapped. Parsing a printed filter yields this form.
    pub fn normalized(self) -> Filter {
        match self {
            Filter::And(terms) => Filter::and(terms.into_iter().map(Filter::normalized).collect()),
            Filter::Or(terms) => Filter::or(terms.into_iter().map(Filter::normalized).collect()),
            Filter::Not(inner) => Filter::Not(Box::new(inner.normalized())),
            Filter::ValuePath { path, filter } => Filter::ValuePath { path, filter: Box::new(filter.normalized()) },
            leaf => leaf,
        }
    }
}

/// Prints the canonical filter: lowercase keywords, JSON string literals, and parentheses
/// only where precedence needs them (`not` > `and` > `or`).
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::And(terms) => {
                for (i, term) in terms.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    // An `or` (or a nested `and`, which only a hand-built tree holds)
                    // inside `and` needs its parentheses back.
                    if matches!(term, Filter::Or(_) | Filter::And(_)) {
                        write!(f, "({term})")?;
                    } else {
                        write!(f, "{term}")?;
                    }
                }
                Ok(())
            }
            Filter::Or(terms) => {
                for (i, term) in terms.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    if matches!(term, Filter::Or(_)) {
                        write!(f, "({term})")?;
                    } else {
                        write!(f, "{term}")?;
                    }
                }
                Ok(())
            }
        }
    }
}
