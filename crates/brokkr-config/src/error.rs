//! Config errors: where (file, line, column) and what, with a hand-written `Display`.
//!
//! Every error the parser can return is a [`ConfigError`]: the origin (a file name, or whatever
//! the caller passed to `parse_str`), a 1-based line and column (0 when the error concerns the
//! whole file, such as an unreadable file), and an [`ErrorKind`]. Messages name the expected
//! form of a bad value, the scope a misplaced key belongs to, and the nearest known key for a
//! typo. They never echo a secret: values of `remote_password` are not repeated.

use crate::options::Scope;
use std::fmt;

/// A config error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or origin name) the error is in.
    pub origin: String,
    /// 1-based line number; 0 when the error is about the whole file.
    pub line: usize,
    /// 1-based column (in characters); 0 when the error is about the whole line or file.
    pub col: usize,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    Io { message: String },
    /// The file is bigger than [`crate::FILE_BYTES_MAX`].
    FileTooLarge { bytes: u64 },
    /// A line (after trimming) is longer than [`crate::LINE_BYTES_MAX`].
    LineTooLong { bytes: usize },
    /// The line is neither a directive, a block start, a block end nor a comment.
    InvalidLine { reason: &'static str },
    /// A quoted value has no closing quote.
    UnterminatedQuote,
    /// A backslash is followed by something other than `"`, `'` or `\`.
    InvalidEscape { found: Option<char> },
    /// A quote character in the middle of an unquoted value, or text right after a closing quote.
    AmbiguousQuote,
    /// A directive without a value.
    MissingValue { key: String },
    /// A key no scope knows.
    UnknownKey {
        key: String,
        suggestion: Option<&'static str>,
    },
    /// A block name other than `listen` and `bridge`.
    UnknownBlock {
        name: String,
        suggestion: Option<&'static str>,
    },
    /// A key that exists, but not in this scope.
    WrongScope {
        key: String,
        here: Scope,
        valid_in: Vec<Scope>,
    },
    /// A block opened inside another block.
    NestedBlock,
    /// A `}` outside any block.
    UnexpectedBlockEnd,
    /// The file ended inside a block.
    UnclosedBlock {
        name: &'static str,
        opened_line: usize,
    },
    /// Too few or too many values.
    WrongValueCount {
        key: String,
        min: usize,
        max: usize,
        found: usize,
        comment: bool,
    },
    /// A value that does not have the expected form.
    BadValue {
        key: String,
        value: String,
        expected: String,
    },
    /// A block (or the file) is inconsistent as a whole.
    Invalid { message: String },
    /// `include_dir` failed (missing directory, unreadable file, too many files).
    Include { dir: String, message: String },
}

impl ConfigError {
    /// An error at `line:col` of `origin`.
    pub fn at(origin: &str, line: usize, col: usize, kind: ErrorKind) -> Self {
        ConfigError {
            origin: origin.to_owned(),
            line,
            col,
            kind,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (0, _) => write!(f, "{}: {}", self.origin, self.kind),
            (line, 0) => write!(f, "{}:{}: {}", self.origin, line, self.kind),
            (line, col) => write!(f, "{}:{}:{}: {}", self.origin, line, col, self.kind),
        }
    }
}

impl std::error::Error for ConfigError {}

fn did_you_mean(f: &mut fmt::Formatter<'_>, suggestion: Option<&str>) -> fmt::Result {
    match suggestion {
        Some(s) => write!(f, "; did you mean `{s}`?"),
        None => Ok(()),
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Io { message } => write!(f, "cannot read the file: {message}"),
            ErrorKind::FileTooLarge { bytes } => write!(
                f,
                "the file is {bytes} bytes; a config file may be at most {} bytes",
                crate::FILE_BYTES_MAX
            ),
            ErrorKind::LineTooLong { bytes } => write!(
                f,
                "the line is {bytes} bytes long; lines may be at most {} bytes",
                crate::LINE_BYTES_MAX
            ),
            ErrorKind::InvalidLine { reason } => write!(f, "invalid line: {reason}"),
            ErrorKind::UnterminatedQuote => write!(f, "this quote is never closed"),
            ErrorKind::InvalidEscape { found: Some(c) } => write!(
                f,
                "invalid escape `\\{}`: only \\\", \\' and \\\\ are escapes",
                c.escape_debug()
            ),
            ErrorKind::InvalidEscape { found: None } => {
                write!(f, "a backslash at the end of the line escapes nothing")
            }
            ErrorKind::AmbiguousQuote => write!(
                f,
                "a quote must start a value and its closing quote must end it; \
                 quote the whole value"
            ),
            ErrorKind::MissingValue { key } => write!(f, "`{key}` needs a value"),
            ErrorKind::UnknownKey { key, suggestion } => {
                write!(f, "unknown directive `{key}`")?;
                did_you_mean(f, *suggestion)
            }
            ErrorKind::UnknownBlock { name, suggestion } => {
                write!(
                    f,
                    "`{name}` is not a block; blocks are `listen` and `bridge`"
                )?;
                did_you_mean(f, *suggestion)
            }
            ErrorKind::WrongScope {
                key,
                here,
                valid_in,
            } => {
                let places: Vec<String> = valid_in.iter().map(|s| s.place().to_owned()).collect();
                write!(
                    f,
                    "`{key}` is only valid {}, not {}",
                    places.join(" or "),
                    here.place()
                )
            }
            ErrorKind::NestedBlock => write!(f, "blocks cannot be nested; close this one first"),
            ErrorKind::UnexpectedBlockEnd => write!(f, "`}}` without an open block"),
            ErrorKind::UnclosedBlock { name, opened_line } => write!(
                f,
                "the `{name}` block opened on line {opened_line} is not closed with `}}` \
                 before the end of the file"
            ),
            ErrorKind::WrongValueCount {
                key,
                min,
                max,
                found,
                comment,
            } => {
                let want = if min == max {
                    format!("{min} value{}", if *min == 1 { "" } else { "s" })
                } else {
                    format!("{min} to {max} values")
                };
                write!(f, "`{key}` takes {want}, found {found}")?;
                if *comment {
                    write!(f, "; comments must be on a line of their own")?;
                }
                Ok(())
            }
            ErrorKind::BadValue {
                key,
                value,
                expected,
            } => {
                write!(
                    f,
                    "invalid value {value:?} for `{key}`: expected {expected}"
                )
            }
            ErrorKind::Invalid { message } => f.write_str(message),
            ErrorKind::Include { dir, message } => write!(f, "include_dir {dir:?}: {message}"),
        }
    }
}
