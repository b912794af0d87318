//! A topic level as the retained tree keys its children.
//!
//! Most levels are short (`bench`, `12345`, `temperature`), so up to [`INLINE_BYTES_MAX`]
//! bytes are kept inline in the key and cost no allocation; a longer one is boxed. Keys
//! compare as bytes, which for UTF-8 is the order of the strings, so the tree's children stay
//! in the order the resumable walk relies on.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;

/// Levels up to this many bytes are stored inline (the key is 24 bytes either way).
pub const INLINE_BYTES_MAX: usize = 22;

/// One topic level, owned.
#[derive(Clone)]
pub(super) enum Level {
    Inline {
        len: u8,
        bytes: [u8; INLINE_BYTES_MAX],
    },
    Boxed(Box<[u8]>),
}

impl Level {
    pub(super) fn new(level: &str) -> Level {
        let b = level.as_bytes();
        match (u8::try_from(b.len()), b.len() <= INLINE_BYTES_MAX) {
            (Ok(len), true) => {
                let mut bytes = [0; INLINE_BYTES_MAX];
                if let Some(head) = bytes.get_mut(..b.len()) {
                    head.copy_from_slice(b);
                }
                Level::Inline { len, bytes }
            }
            _ => Level::Boxed(b.into()),
        }
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        match self {
            Level::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Level::Boxed(b) => b,
        }
    }
}

impl Borrow<[u8]> for Level {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Level {
    fn eq(&self, other: &Level) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Level {}

impl PartialOrd for Level {
    fn partial_cmp(&self, other: &Level) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Level {
    fn cmp(&self, other: &Level) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_levels_are_inline_long_ones_boxed_and_both_order_as_strings() {
        let short = Level::new("temperature");
        let edge = Level::new(&"e".repeat(INLINE_BYTES_MAX));
        let long = Level::new(&"l".repeat(INLINE_BYTES_MAX + 1));
        assert!(matches!(short, Level::Inline { .. }));
        assert!(matches!(edge, Level::Inline { .. }));
        assert!(matches!(long, Level::Boxed(_)));
        assert_eq!(std::mem::size_of::<Level>(), 24);
        let mut words = ["", "a", "ab", "b", "é", "z", "$SYS", "10", "9"].map(String::from);
        words[0] = "l".repeat(40);
        let mut levels: Vec<Level> = words.iter().map(|w| Level::new(w)).collect();
        levels.sort();
        words.sort();
        let back: Vec<&[u8]> = levels.iter().map(Level::as_bytes).collect();
        let want: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        assert_eq!(back, want);
        assert_eq!(Level::new(""), Level::new(""));
        assert_ne!(Level::new("a"), Level::new("a\0"));
    }
}
