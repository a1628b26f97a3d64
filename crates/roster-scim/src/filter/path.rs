//! PATCH paths (RFC 7644 §3.5.2, Figure 7): `PATH = attrPath / valuePath [subAttr]`, plus
//! a bare schema URN naming a whole extension object.

use std::fmt;

use super::lexer::{TokenKind, tokenize};
use super::{AttrPath, Filter, FilterError, ParseLimits, Parser, PathWord, check_attr_name, parse_path_word};

/// The target of a PATCH operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PatchPath {
    /// A whole extension: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    Schema(String),
    /// `attr`, `attr.sub` or `urn:...:attr[.sub]`.
    Attr(AttrPath),
    /// `attr[filter]` or `attr[filter].sub`; `path.sub` is always `None` here.
    Filtered { path: AttrPath, filter: Filter, sub: Option<String> },
}

impl PatchPath {
    /// Parses a path, splitting URNs at their last `:`.
    pub fn parse(input: &str) -> Result<PatchPath, FilterError> {
        Self::parse_with(input, &[] as &[&str])
    }

    /// Parses a path, resolving URN prefixes against `known_urns` (longest match first).
    pub fn parse_with<S: AsRef<str>>(input: &str, known_urns: &[S]) -> Result<PatchPath, FilterError> {
        let limits = ParseLimits::default();
        if input.len() > limits.max_len {
            return Err(FilterError::new(limits.max_len, "path is too long"));
        }
        let known: Vec<&str> = known_urns.iter().map(AsRef::as_ref).collect();
        let tokens = tokenize(input)?;
        let (word, offset) = match tokens.first().map(|t| (&t.kind, t.offset)) {
            Some((TokenKind::Word(w), offset)) => (w.clone(), offset),
            Some((_, offset)) => {
                return Err(FilterError::new(offset, "a path starts with an attribute name"));
            }
            None => return Err(FilterError::new(0, "empty path")),
        };
        let mut parser = Parser::new(tokens, input.len(), &known, limits);
        parser.pos = 1;
        let path = match parse_path_word(&word, offset, &known)? {
            PathWord::Schema(urn) => {
                if let Some(token) = parser.peek() {
                    return Err(FilterError::new(token.offset, "unexpected text after the schema URN"));
                }
                return Ok(PatchPath::Schema(urn));
            }
            PathWord::Attr(path) => path,
        };
        match parser.peek() {
            None => return Ok(PatchPath::Attr(path)),
            Some(token) if token.kind != TokenKind::LBracket => {
                return Err(FilterError::new(token.offset, "unexpected text after the attribute path"));
            }
            Some(_) => {}
        }
        if path.sub.is_some() {
            return Err(FilterError::new(offset, "a value filter applies to an attribute, not a sub-attribute"));
        }
        let filter = parser.parse_bracket_filter()?;
        let mut sub = None;
        if let Some(token) = parser.peek().cloned() {
            match &token.kind {
                TokenKind::Word(w) if w.starts_with('.') => {
                    check_attr_name(&w[1..], token.offset + 1)?;
                    sub = Some(w[1..].to_string());
                    parser.pos += 1;
                }
                _ => {
                    return Err(FilterError::new(token.offset, "expected '.subAttribute' or the end of the path"));
                }
            }
        }
        if let Some(token) = parser.peek() {
            return Err(FilterError::new(token.offset, "unexpected text after the path"));
        }
        Ok(PatchPath::Filtered { path, filter, sub })
    }

    /// The attribute the path names (`None` for a whole schema).
    pub fn attr(&self) -> Option<&AttrPath> {
        match self {
            PatchPath::Schema(_) => None,
            PatchPath::Attr(path) | PatchPath::Filtered { path, .. } => Some(path),
        }
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchPath::Schema(urn) => f.write_str(urn),
            PatchPath::Attr(path) => write!(f, "{path}"),
            PatchPath::Filtered { path, filter, sub } => {
                write!(f, "{path}[{filter}]")?;
                if let Some(sub) = sub {
                    write!(f, ".{sub}")?;
                }
                Ok(())
            }
        }
    }
}
