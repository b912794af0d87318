//! Why a state file could not be decoded or encoded. Every variant blames the file (or, for
//! [`PersistError::Unencodable`], a value the broker should never hold); none carries file
//! bytes, so the message is safe to log.

use std::fmt;

/// A state file that cannot be used, or a snapshot that cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PersistError {
    /// The file ends before what its lengths announce.
    Truncated,
    /// Bytes follow the last record, or a record is longer than its content.
    TrailingBytes,
    /// Not a brokkr state file.
    BadMagic,
    /// A format version this build does not read.
    UnsupportedVersion(u16),
    /// A state file of another kind (sessions where retained messages were expected...).
    WrongKind(u8),
    /// The body does not match its CRC-32: torn write, disk or copy corruption.
    ChecksumMismatch {
        /// The checksum the file carries.
        stored: u32,
        /// The checksum of the bytes present.
        computed: u32,
    },
    /// A field out of its range (the text says which).
    Invalid(&'static str),
    /// A stored PUBLISH (a message or a will) that the MQTT 5 codec refuses.
    Packet(brokkr_codec::DecodeError),
    /// A snapshot value that cannot be written (longer than its length prefix allows).
    Unencodable(&'static str),
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersistError::Truncated => f.write_str("file truncated"),
            PersistError::TrailingBytes => f.write_str("unexpected bytes after a record"),
            PersistError::BadMagic => f.write_str("not a brokkr state file (bad magic)"),
            PersistError::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            PersistError::WrongKind(k) => write!(f, "state file of another kind ({k})"),
            PersistError::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:08x}, computed {computed:08x})"
            ),
            PersistError::Invalid(what) => write!(f, "invalid record: {what}"),
            PersistError::Packet(e) => write!(f, "invalid stored PUBLISH: {e}"),
            PersistError::Unencodable(what) => write!(f, "cannot encode: {what}"),
        }
    }
}

impl std::error::Error for PersistError {}
