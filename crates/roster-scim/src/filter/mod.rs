//! SCIM filters (RFC 7644 §3.4.2.2, with errata 4690, 7319 and 7322) and PATCH paths
//! (RFC 7644 §3.5.2, Figure 7): a hand-written lexer and recursive-descent parser.
//!
//! Leniencies (each named in `reference/scim-requirements.md` Part F):
//! - keywords, operators and literals are case-insensitive (`userName Eq "x"`, `AND`);
//! - bare-word values are strings (F-12: `userName eq bjensen`);
//! - `attr[filter].sub op value` is read as `attr[filter and sub op value]` (F-13);
//! - `not(...)` needs no space (errata 7319); any white space separates tokens;
//! - URN-qualified paths are split at the longest *known* schema URN, so admin-defined
//!   extension URNs work whatever they contain; unknown URNs split at their last `:`.

mod ast;
mod lexer;
mod path;

pub use ast::{AttrPath, CompValue, CompareOp, Filter};
pub use path::PatchPath;

use crate::error::ScimError;
use lexer::{Token, TokenKind, tokenize};

/// A parse error with the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {offset}")]
pub struct FilterError {
    /// Byte offset into the input.
    pub offset: usize,
    /// What was wrong.
    pub message: String,
}

impl FilterError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        FilterError { offset, message: message.into() }
    }

    /// As a `400 invalidFilter` error (for filters).
    pub fn into_filter_error(self) -> ScimError {
        ScimError::invalid_filter(format!("invalid filter: {self}"))
    }

    /// As a `400 invalidPath` error (for PATCH paths).
    pub fn into_path_error(self) -> ScimError {
        ScimError::invalid_path(format!("invalid path: {self}"))
    }
}

/// Budgets that keep hostile filters cheap to reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// The longest accepted filter, in bytes.
    pub max_len: usize,
    /// The deepest nesting of parentheses, `not` and brackets.
    pub max_depth: usize,
    /// The most attribute expressions in one filter.
    pub max_terms: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_len: 16 * 1024, max_depth: 32, max_terms: 500 }
    }
}

impl Filter {
    /// Parses a filter, splitting URN-qualified paths at their last `:`.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        Self::parse_with(input, &[] as &[&str], ParseLimits::default())
    }

    /// Parses a filter, splitting URN-qualified paths at the longest of `known_urns`.
    pub fn parse_with<S: AsRef<str>>(
        input: &str,
        known_urns: &[S],
        limits: ParseLimits,
    ) -> Result<Filter, FilterError> {
        if input.len() > limits.max_len {
            return Err(FilterError::new(limits.max_len, format!("filter is longer than {} bytes", limits.max_len)));
        }
        let known: Vec<&str> = known_urns.iter().map(AsRef::as_ref).collect();
        let mut parser = Parser::new(tokenize(input)?, input.len(), &known, limits);
        if parser.tokens.is_empty() {
            return Err(FilterError::new(0, "empty filter"));
        }
        let filter = parser.parse_or(false)?;
        parser.expect_end()?;
        Ok(filter)
    }
}

/// What a path word turned out to be.
pub(crate) enum PathWord {
    Attr(AttrPath),
    /// A bare schema URN (the whole extension), allowed only in PATCH paths.
    Schema(String),
}

/// Splits a path word into URN, name and sub-attribute (RFC 7644 §3.10).
pub(crate) fn parse_path_word(word: &str, offset: usize, known: &[&str]) -> Result<PathWord, FilterError> {
    let is_urn = word.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let (urn, rest, rest_offset) = if is_urn {
        let longest_known = known
            .iter()
            .filter(|k| {
                word.get(..k.len()).is_some_and(|p| p.eq_ignore_ascii_case(k))
                    && matches!(word.as_bytes().get(k.len()), None | Some(b':') | Some(b'.'))
            })
            .max_by_key(|k| k.len());
        match longest_known {
            Some(k) if word.len() == k.len() => return Ok(PathWord::Schema(word.to_string())),
            Some(k) => (Some(&word[..k.len()]), &word[k.len() + 1..], offset + k.len() + 1),
            None => match word.rsplit_once(':') {
                Some((urn, rest)) => (Some(urn), rest, offset + urn.len() + 1),
                None => (None, word, offset),
            },
        }
    } else {
        (None, word, offset)
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    check_attr_name(name, rest_offset)?;
    if let Some(sub) = sub {
        check_attr_name(sub, rest_offset + name.len() + 1)?;
    }
    Ok(PathWord::Attr(AttrPath { urn: urn.map(str::to_string), name: name.to_string(), sub: sub.map(str::to_string) }))
}

/// `ATTRNAME = (ALPHA / "$") *(ALPHA / DIGIT / "$" / "-" / "_")`: RFC 7643 §2.1 plus a
/// leading `$` so `$ref` can be named.
pub(crate) fn check_attr_name(name: &str, offset: usize) -> Result<(), FilterError> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(FilterError::new(offset, "expected an attribute name")),
        Some(c) if c.is_ascii_alphabetic() || c == '$' => {}
        Some(c) => {
            return Err(FilterError::new(offset, format!("attribute names cannot start with {c:?}")));
        }
    }
    for (i, c) in chars.enumerate() {
        if !(c.is_ascii_alphanumeric() || matches!(c, '$' | '-' | '_')) {
            return Err(FilterError::new(
                offset + 1 + i,
                format!("unexpected character {c:?} in attribute name {name:?}"),
            ));
        }
    }
    Ok(())
}

pub(crate) struct Parser<'a> {
    pub(crate) tokens: Vec<Token>,
    pub(crate) pos: usize,
    input_len: usize,
    known: &'a [&'a str],
    limits: ParseLimits,
    depth: usize,
    terms: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(tokens: Vec<Token>, input_len: usize, known: &'a [&'a str], limits: ParseLimits) -> Self {
        Parser { tokens, pos: 0, input_len, known, limits, depth: 0, terms: 0 }
    }

    pub(crate) fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_kind(&self, ahead: usize) -> Option<&TokenKind> {
        self.tokens.get(self.pos + ahead).map(|t| &t.kind)
    }

    /// The offset of the next token, or the end of input.
    pub(crate) fn here(&self) -> usize {
        self.peek().map_or(self.input_len, |t| t.offset)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek_kind(0), Some(TokenKind::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    pub(crate) fn expect(&mut self, kind: &TokenKind, what: &str) -> Result<(), FilterError> {
        if self.peek_kind(0) == Some(kind) {
            self.pos += 1;
            Ok(())
        } else {
            Err(FilterError::new(self.here(), format!("expected {what}")))
        }
    }

    pub(crate) fn expect_end(&self) -> Result<(), FilterError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(FilterError::new(
                t.offset,
                format!("expected 'and', 'or' or the end of the filter, found {}", describe(&t.kind)),
            )),
        }
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(FilterError::new(
                self.here(),
                format!("filter nests deeper than {} levels", self.limits.max_depth),
            ));
        }
        Ok(())
    }

    /// `or` binds loosest.
    pub(crate) fn parse_or(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let mut terms = vec![self.parse_and(in_brackets)?];
        while self.peek_keyword("or") {
            self.pos += 1;
            terms.push(self.parse_and(in_brackets)?);
        }
        Ok(Filter::or(terms))
    }

    fn parse_and(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let mut terms = vec![self.parse_unary(in_brackets)?];
        while self.peek_keyword("and") {
            self.pos += 1;
            terms.push(self.parse_unary(in_brackets)?);
        }
        Ok(Filter::and(terms))
    }

    fn parse_unary(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        if self.peek_keyword("not") && self.peek_kind(1) == Some(&TokenKind::LParen) {
            self.pos += 2;
            self.enter()?;
            let inner = self.parse_or(in_brackets)?;
            self.expect(&TokenKind::RParen, "')' to close 'not ('")?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.peek_kind(0) {
            Some(TokenKind::LParen) => {
                self.pos += 1;
                self.enter()?;
                let inner = self.parse_or(in_brackets)?;
                self.expect(&TokenKind::RParen, "')'")?;
                self.depth -= 1;
                Ok(inner)
            }
            Some(TokenKind::Word(_)) => self.parse_attr_expr(in_brackets),
            Some(other) => Err(FilterError::new(
                self.here(),
                format!("expected an attribute path, '(' or 'not', found {}", describe(other)),
            )),
            None => Err(FilterError::new(self.here(), "expected an attribute expression")),
        }
    }

    fn take_path(&mut self, in_brackets: bool) -> Result<AttrPath, FilterError> {
        let Some(Token { kind: TokenKind::Word(word), offset }) = self.peek().cloned() else {
            return Err(FilterError::new(self.here(), "expected an attribute path"));
        };
        self.pos += 1;
        let path = match parse_path_word(&word, offset, self.known)? {
            PathWord::Attr(path) => path,
            PathWord::Schema(urn) => {
                return Err(FilterError::new(offset, format!("schema URN {urn:?} needs an attribute name")));
            }
        };
        if in_brackets && (path.urn.is_some() || path.sub.is_some()) {
            return Err(FilterError::new(
                offset,
                "inside [...] name a sub-attribute of the filtered attribute, without URN or '.'",
            ));
        }
        Ok(path)
    }

    fn count_term(&mut self) -> Result<(), FilterError> {
        self.terms += 1;
        if self.terms > self.limits.max_terms {
            return Err(FilterError::new(
                self.here(),
                format!("filter has more than {} expressions", self.limits.max_terms),
            ));
        }
        Ok(())
    }

    fn parse_attr_expr(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let path_offset = self.here();
        let path = self.take_path(in_brackets)?;
        if self.peek_kind(0) == Some(&TokenKind::LBracket) {
            if in_brackets {
                return Err(FilterError::new(self.here(), "value filters cannot nest"));
            }
            if path.sub.is_some() {
                return Err(FilterError::new(
                    path_offset,
                    "a value filter applies to an attribute, not a sub-attribute",
                ));
            }
            let filter = self.parse_bracket_filter()?;
            // F-13: `attr[filter].sub op value` means `attr[filter and sub op value]`.
            if let Some(Token { kind: TokenKind::Word(word), offset }) = self.peek().cloned()
                && let Some(sub) = word.strip_prefix('.')
            {
                check_attr_name(sub, offset + 1)?;
                self.pos += 1;
                let sub_term = self.parse_comparison(AttrPath::simple(sub))?;
                return Ok(Filter::ValuePath { path, filter: Box::new(Filter::and(vec![filter, sub_term])) });
            }
            return Ok(Filter::ValuePath { path, filter: Box::new(filter) });
        }
        self.parse_comparison(path)
    }

    /// Parses `[valFilter]`, the opening bracket being the next token.
    pub(crate) fn parse_bracket_filter(&mut self) -> Result<Filter, FilterError> {
        self.pos += 1;
        self.enter()?;
        let filter = self.parse_or(true)?;
        self.expect(&TokenKind::RBracket, "']' to close the value filter")?;
        self.depth -= 1;
        Ok(filter)
    }

    /// Parses `pr` or `op value` after a path.
    fn parse_comparison(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        self.count_term()?;
        let op_offset = self.here();
        let Some(TokenKind::Word(op_word)) = self.peek_kind(0).cloned() else {
            return Err(FilterError::new(op_offset, format!("expected an operator after {path}")));
        };
        self.pos += 1;
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::parse(&op_word) else {
            return Err(FilterError::new(op_offset, format!("unknown operator {op_word:?}")));
        };
        let value = self.parse_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self, op: CompareOp) -> Result<CompValue, FilterError> {
        let offset = self.here();
        let value = match self.peek_kind(0).cloned() {
            Some(TokenKind::Str(s)) => CompValue::String(s),
            Some(TokenKind::Word(w)) => word_value(&w, offset)?,
            Some(other) => {
                return Err(FilterError::new(
                    offset,
                    format!("expected a value after '{op}', found {}", describe(&other)),
                ));
            }
            None => {
                return Err(FilterError::new(offset, format!("expected a value after '{op}'")));
            }
        };
        self.pos += 1;
        Ok(value)
    }
}

/// Reads an unquoted value: `true`/`false`/`null` (any case), a JSON number, or (F-12) a
/// bare word taken as a string.
fn word_value(word: &str, offset: usize) -> Result<CompValue, FilterError> {
    if word.eq_ignore_ascii_case("true") {
        return Ok(CompValue::Bool(true));
    }
    if word.eq_ignore_ascii_case("false") {
        return Ok(CompValue::Bool(false));
    }
    if word.eq_ignore_ascii_case("null") {
        return Ok(CompValue::Null);
    }
    if looks_like_json_number(word) {
        return serde_json::from_str::<serde_json::Number>(word)
            .map(CompValue::Number)
            .map_err(|_| FilterError::new(offset, format!("number {word} is out of range")));
    }
    Ok(CompValue::String(word.to_string()))
}

/// The JSON number grammar (RFC 8259 §6).
fn looks_like_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == frac_start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::LParen => "'('".into(),
        TokenKind::RParen => "')'".into(),
        TokenKind::LBracket => "'['".into(),
        TokenKind::RBracket => "']'".into(),
        TokenKind::Str(s) => format!("string {s:?}"),
        TokenKind::Word(w) => format!("{w:?}"),
    }
}

#[cfg(test)]
mod tests;
