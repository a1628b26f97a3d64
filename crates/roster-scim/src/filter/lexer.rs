//! Tokeniser for filters and PATCH paths. Words are maximal runs of characters that are
//! not white space, brackets, parentheses or quotes; the parser decides whether a word is
//! a keyword, an attribute path or a bare value. Keywords are therefore never matched by
//! substring (`preferredLanguage pr` is safe) and quoted values never become operators.

use super::FilterError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A JSON string literal, already unescaped.
    Str(String),
    /// Anything else: attribute paths, keywords, numbers, bare words.
    Word(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// Byte offset of the token's first character in the input.
    pub offset: usize,
}

pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    // U+0000 matches nothing Roster stores, and PostgreSQL cannot compare it: it is refused
    // wherever it appears, raw here or escaped in a string literal.
    if let Some(at) = input.find('\0') {
        return Err(FilterError::new(at, "a NUL character (U+0000) is not allowed in a filter"));
    }
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(offset, c)) = chars.peek() {
        let kind = match c {
            c if c.is_whitespace() => {
                chars.next();
                continue;
            }
            '(' => TokenKind::LParen,
            ')' => TokenKind::RParen,
            '[' => TokenKind::LBracket,
            ']' => TokenKind::RBracket,
            '"' => {
                chars.next();
                tokens.push(Token { kind: TokenKind::Str(read_string(input, offset, &mut chars)?), offset });
                continue;
            }
            _ => {
                let mut end = input.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token { kind: TokenKind::Word(input[offset..end].to_string()), offset });
                continue;
            }
        };
        chars.next();
        tokens.push(Token { kind, offset });
    }
    Ok(tokens)
}

/// Reads a JSON string body after its opening quote (RFC 8259 §7 escapes).
fn read_string(
    input: &str,
    start: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, FilterError> {
    let mut out = String::new();
    loop {
        let Some((i, c)) = chars.next() else {
            return Err(FilterError::new(start, "unterminated string literal"));
        };
        match c {
            '"' => return Ok(out),
            '\\' => {
                let Some((_, esc)) = chars.next() else {
                    return Err(FilterError::new(i, "unterminated escape sequence"));
                };
                match esc {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let high = read_hex4(input, i, chars)?;
                        let code = if (0xD800..0xDC00).contains(&high) {
                            // A surrogate pair: the low half must follow as another \u escape.
                            let pair = (chars.next(), chars.next());
                            if !matches!(pair, (Some((_, '\\')), Some((_, 'u')))) {
                                return Err(FilterError::new(i, "unpaired UTF-16 surrogate in \\u escape"));
                            }
                            let low = read_hex4(input, i, chars)?;
                            if !(0xDC00..0xE000).contains(&low) {
                                return Err(FilterError::new(i, "invalid UTF-16 low surrogate in \\u escape"));
                            }
                            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            high
                        };
                        match char::from_u32(code) {
                            Some('\0') => return Err(FilterError::new(i, "\\u0000 (NUL) is not allowed in a filter")),
                            Some(ch) => out.push(ch),
                            None => return Err(FilterError::new(i, "invalid \\u escape")),
                        }
                    }
                    other => {
                        return Err(FilterError::new(i, format!("invalid escape sequence \\{other}")));
                    }
                }
            }
            c => out.push(c),
        }
    }
}

fn read_hex4(
    _input: &str,
    at: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<u32, FilterError> {
    let mut value = 0u32;
    for _ in 0..4 {
        let digit = chars
            .next()
            .and_then(|(_, c)| c.to_digit(16))
            .ok_or_else(|| FilterError::new(at, "\\u escape needs four hex digits"))?;
        value = value * 16 + digit;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<TokenKind> {
        tokenize(s).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn splits_brackets_and_sub_attribute_words() {
        assert_eq!(
            kinds(r#"emails[type eq "work"].value"#),
            vec![
                TokenKind::Word("emails".into()),
                TokenKind::LBracket,
                TokenKind::Word("type".into()),
                TokenKind::Word("eq".into()),
                TokenKind::Str("work".into()),
                TokenKind::RBracket,
                TokenKind::Word(".value".into()),
            ]
        );
    }

    #[test]
    fn unescapes_json_strings_including_surrogate_pairs() {
        assert_eq!(kinds(r#""a \"q\" b""#), vec![TokenKind::Str("a \"q\" b".into())]);
        assert_eq!(kinds(r#""caf\u00e9""#), vec![TokenKind::Str("café".into())]);
        assert_eq!(kinds(r#""\ud83d\ude00""#), vec![TokenKind::Str("😀".into())]);
        assert!(tokenize(r#""\ud83d""#).is_err());
        assert!(tokenize(r#""\x""#).is_err());
        assert!(tokenize(r#""open"#).is_err());
    }

    #[test]
    fn offsets_are_byte_offsets() {
        let tokens = tokenize("é eq \"x\"").unwrap();
        assert_eq!(tokens[1].offset, 3);
    }

    #[test]
    fn nul_is_refused_raw_or_escaped() {
        for input in ["userName eq \"a\0b\"", "userName eq a\0", "\0", "userName eq \"\\u0000\""] {
            assert!(tokenize(input).is_err(), "{input:?}");
        }
        assert!(tokenize("userName eq \"\\u0001\"").is_ok());
    }
}
