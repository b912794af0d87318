//! One config line to tokens: comment, block start, block end, or a key with its values.
//!
//! The rules are FlashMQ's: the line is trimmed; an empty line or one starting with `#` is
//! skipped (before the length check, as FlashMQ does); a trimmed line may be at most
//! [`crate::LINE_BYTES_MAX`] bytes; `name {` opens a block and `}` closes one, each alone on its
//! line; otherwise a key of `[A-Za-z0-9_-]` is followed by whitespace and one or more values.
//! Values are separated by whitespace and may be single- or double-quoted; a backslash escapes
//! `"`, `'` or `\` (inside quotes and out, as FlashMQ). Where FlashMQ's tokenizer does something
//! surprising (a quote in the middle of a word, text glued to a closing quote) we refuse the line
//! instead. There are no trailing comments: `#` inside a line is an ordinary character (topic
//! filters use it), so `port 1883 # x` is three values and fails the value count with a hint.
//! This module never allocates more than the line it is given.

use crate::error::ErrorKind;

/// A token and the 1-based character column where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub text: String,
    pub col: usize,
    /// The value was written in quotes (so `"{"` is a value, not a brace).
    pub quoted: bool,
}

/// One meaningful line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    Directive { key: Token, values: Vec<Token> },
    BlockStart { name: Token },
    BlockEnd { col: usize },
}

/// A lexing error and its column (1-based, 0 for the whole line).
pub(crate) type LexError = (usize, ErrorKind);

/// Whitespace as C's `isspace` sees it (FlashMQ trims and splits with it).
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Lex one raw line (without its `\n`). `Ok(None)` for blank lines and comments.
pub(crate) fn lex_line(raw: &str) -> Result<Option<Line>, LexError> {
    let trimmed = raw.trim_matches(is_space);
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    if trimmed.len() > crate::LINE_BYTES_MAX {
        return Err((
            0,
            ErrorKind::LineTooLong {
                bytes: trimmed.len(),
            },
        ));
    }
    let lead = raw.len() - raw.trim_start_matches(is_space).len();
    let col_of = |byte_in_trimmed: usize| column(raw, lead + byte_in_trimmed);
    if trimmed == "}" {
        return Ok(Some(Line::BlockEnd { col: col_of(0) }));
    }
    let key_end = trimmed
        .find(|c: char| !is_key_char(c))
        .unwrap_or(trimmed.len());
    let (key, rest) = trimmed.split_at(key_end);
    if key.is_empty() {
        let reason = "a line starts with a directive name made of letters, digits, `_` and `-`";
        return Err((col_of(0), ErrorKind::InvalidLine { reason }));
    }
    let key = Token {
        text: key.to_owned(),
        col: col_of(0),
        quoted: false,
    };
    if rest.trim_start_matches(is_space) == "{" {
        return Ok(Some(Line::BlockStart { name: key }));
    }
    if rest.is_empty() {
        return Err((key.col, ErrorKind::MissingValue { key: key.text }));
    }
    if !rest.starts_with(is_space) {
        let reason = "the directive name must be followed by a space and a value";
        return Err((col_of(key_end), ErrorKind::InvalidLine { reason }));
    }
    let values = split_values(rest, &|b| col_of(key_end + b))?;
    if let Some(brace) = values
        .iter()
        .find(|t| !t.quoted && (t.text == "{" || t.text == "}"))
    {
        let reason = "`{` must end a block's first line and `}` must stand alone on its line";
        return Err((brace.col, ErrorKind::InvalidLine { reason }));
    }
    Ok(Some(Line::Directive { key, values }))
}

/// The 1-based character column of byte offset `byte` in `raw`.
fn column(raw: &str, byte: usize) -> usize {
    raw.get(..byte).map_or(byte, |s| s.chars().count()) + 1
}

/// Split the value part of a directive into tokens. `col` maps a byte offset in `rest` to a
/// column in the raw line.
fn split_values(rest: &str, col: &dyn Fn(usize) -> usize) -> Result<Vec<Token>, LexError> {
    let mut tokens = Vec::new();
    let mut chars = rest.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if is_space(c) {
            chars.next();
            continue;
        }
        let mut text = String::new();
        let quote = (c == '"' || c == '\'').then_some(c);
        if quote.is_some() {
            chars.next();
        }
        let mut closed = false;
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\'' | '\\'))) => text.push(e),
                    other => {
                        let found = other.map(|(_, e)| e);
                        return Err((col(at), ErrorKind::InvalidEscape { found }));
                    }
                },
                c if Some(c) == quote => {
                    closed = true;
                    break;
                }
                c if quote.is_none() && is_space(c) => break,
                '"' | '\'' if quote.is_none() => return Err((col(at), ErrorKind::AmbiguousQuote)),
                c => text.push(c),
            }
        }
        if quote.is_some() && !closed {
            return Err((col(start), ErrorKind::UnterminatedQuote));
        }
        if let Some(&(at, c)) = chars.peek().filter(|_| closed)
            && !is_space(c)
        {
            return Err((col(at), ErrorKind::AmbiguousQuote));
        }
        tokens.push(Token {
            text,
            col: col(start),
            quoted: quote.is_some(),
        });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(line: &str) -> Vec<String> {
        match lex_line(line) {
            Ok(Some(Line::Directive { values, .. })) => {
                values.into_iter().map(|t| t.text).collect()
            }
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn err(line: &str) -> LexError {
        lex_line(line).expect_err(line)
    }

    #[test]
    fn quoting_and_escapes_as_flashmq() {
        assert_eq!(values(r#"k "hallo" "you""#), ["hallo", "you"]);
        assert_eq!(values("k hallo   you"), ["hallo", "you"]);
        assert_eq!(values(r#"k "hallo" you"#), ["hallo", "you"]);
        assert_eq!(values(r#"k "hallo you""#), ["hallo you"]);
        assert_eq!(
            values(r#"k "I quote you with \"""#),
            [r#"I quote you with ""#]
        );
        assert_eq!(
            values(r#"k 'I quote you with "'"#),
            [r#"I quote you with ""#]
        );
        assert_eq!(
            values(r#"k 'it\'s' "back\\slash""#),
            ["it's", r"back\slash"]
        );
        assert_eq!(values(r#"k """#), [""]);
        assert_eq!(values(r"k a\\b"), [r"a\b"]);
        assert_eq!(values("k\ta/#\t1"), ["a/#", "1"]);
    }

    #[test]
    fn quoting_errors_have_columns() {
        assert_eq!(err(r#"key "abc"#), (5, ErrorKind::UnterminatedQuote));
        assert_eq!(
            err(r#"key "a\nb""#),
            (7, ErrorKind::InvalidEscape { found: Some('n') })
        );
        assert_eq!(
            err(r"key ab\"),
            (7, ErrorKind::InvalidEscape { found: None })
        );
        assert_eq!(err(r#"key a"b""#), (6, ErrorKind::AmbiguousQuote));
        assert_eq!(err(r#"key "a"b"#), (8, ErrorKind::AmbiguousQuote));
    }

    #[test]
    fn comments_blocks_and_blank_lines() {
        assert_eq!(lex_line("   # a comment"), Ok(None));
        assert_eq!(lex_line(" \t \r"), Ok(None));
        assert_eq!(lex_line(&format!("#{}", "x".repeat(400))), Ok(None));
        assert!(matches!(
            lex_line("listen {"),
            Ok(Some(Line::BlockStart { .. }))
        ));
        assert!(matches!(
            lex_line("bridge{"),
            Ok(Some(Line::BlockStart { .. }))
        ));
        assert_eq!(lex_line("  }"), Ok(Some(Line::BlockEnd { col: 3 })));
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(
            err("port").1,
            ErrorKind::MissingValue { key: "port".into() }
        );
        assert!(matches!(err("  =x 1"), (3, ErrorKind::InvalidLine { .. })));
        assert!(matches!(err("po=rt 1"), (3, ErrorKind::InvalidLine { .. })));
        assert!(matches!(
            err("listen { port 1 }"),
            (8, ErrorKind::InvalidLine { .. })
        ));
        assert_eq!(values(r#"k "{" '}'"#), ["{", "}"]);
        let long = format!("k {}", "v".repeat(255));
        assert_eq!(err(&long), (0, ErrorKind::LineTooLong { bytes: 257 }));
        assert!(lex_line(&format!("   k {}   ", "v".repeat(254))).is_ok());
    }
}
