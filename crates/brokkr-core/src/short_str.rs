//! Short strings kept inline: a client identifier, a topic level in the retained tree.
//!
//! Such strings are mostly short (MQTT 3.1 capped client ids at 23 bytes; levels such as
//! `bench`, `12345` or `temperature`), and one is kept per idle client or per retained
//! message, so up to [`INLINE_BYTES_MAX`] bytes live inside the value (24 bytes, no
//! allocation) and only a longer string is boxed. Values compare as bytes, which for UTF-8 is
//! the order of the strings, so the retained tree's children stay in the order its resumable
//! walk relies on.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;

/// Strings up to this many bytes are stored inline (the value is 24 bytes either way).
pub const INLINE_BYTES_MAX: usize = 22;

/// An owned string, inline when short.
#[derive(Clone)]
pub enum ShortStr {
    /// Up to [`INLINE_BYTES_MAX`] bytes of UTF-8, `len` of them used.
    Inline {
        /// Bytes used.
        len: u8,
        /// The string, then zeros.
        bytes: [u8; INLINE_BYTES_MAX],
    },
    /// A longer string.
    Boxed(Box<str>),
}

impl ShortStr {
    /// `s`, inline if it fits.
    pub fn new(s: &str) -> ShortStr {
        let b = s.as_bytes();
        match (u8::try_from(b.len()), b.len() <= INLINE_BYTES_MAX) {
            (Ok(len), true) => {
                let mut bytes = [0; INLINE_BYTES_MAX];
                if let Some(head) = bytes.get_mut(..b.len()) {
                    head.copy_from_slice(b);
                }
                ShortStr::Inline { len, bytes }
            }
            _ => ShortStr::Boxed(s.into()),
        }
    }

    /// The bytes of the string.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ShortStr::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            ShortStr::Boxed(s) => s.as_bytes(),
        }
    }

    /// The string. (An inline one is checked as UTF-8 on the way out, which it always is: it
    /// was copied from a `&str`; the check is what safe code pays for not trusting that.)
    pub fn as_str(&self) -> &str {
        match self {
            ShortStr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            ShortStr::Boxed(s) => s,
        }
    }
}

impl From<&str> for ShortStr {
    fn from(s: &str) -> ShortStr {
        ShortStr::new(s)
    }
}

impl std::ops::Deref for ShortStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<[u8]> for ShortStr {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for ShortStr {
    fn eq(&self, other: &ShortStr) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ShortStr {}

impl PartialOrd for ShortStr {
    fn partial_cmp(&self, other: &ShortStr) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ShortStr {
    fn cmp(&self, other: &ShortStr) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_long_ones_boxed_and_both_order_as_strings() {
        let short = ShortStr::new("temperature");
        let edge = ShortStr::new(&"é".repeat(INLINE_BYTES_MAX / 2));
        let long = ShortStr::new(&"l".repeat(INLINE_BYTES_MAX + 1));
        assert!(matches!(short, ShortStr::Inline { .. }));
        assert!(matches!(edge, ShortStr::Inline { .. }));
        assert!(matches!(long, ShortStr::Boxed(_)));
        assert_eq!(std::mem::size_of::<ShortStr>(), 24);
        assert_eq!(edge.as_str(), "é".repeat(INLINE_BYTES_MAX / 2));
        assert_eq!(&*long, "l".repeat(INLINE_BYTES_MAX + 1));
        let mut words = ["", "a", "ab", "b", "é", "z", "$SYS", "10", "9"].map(String::from);
        words[0] = "l".repeat(40);
        let mut strings: Vec<ShortStr> = words.iter().map(|w| ShortStr::new(w)).collect();
        strings.sort();
        words.sort();
        let back: Vec<&str> = strings.iter().map(ShortStr::as_str).collect();
        assert_eq!(back, words);
        assert_eq!(ShortStr::new(""), ShortStr::new(""));
        assert_ne!(ShortStr::new("a"), ShortStr::new("a\0"));
        assert_eq!(format!("{short} {short:?}"), "temperature \"temperature\"");
    }
}
