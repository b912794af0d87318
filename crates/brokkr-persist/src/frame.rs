//! The envelope of every state file: a fixed header, the body, and a CRC-32 of both.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "brokkrDB"
//!      8     2  format version (1)
//!     10     1  kind: 1 retained messages, 2 sessions, 3 journal base
//!     11     1  reserved, 0
//!     12     8  save epoch: wall-clock milliseconds since 1970 (ages in the body count from it)
//!     20     8  body length in bytes
//!     28     n  body
//!   28+n     4  CRC-32 (IEEE) of bytes 0 .. 28+n
//! ```
//!
//! Integers are big-endian. The header is checked field by field before the checksum, so a file
//! from another program or a future version is reported as such, not as corruption; a length
//! that disagrees with the file's size is a truncated (or extended) file.

use crate::PersistError;
use crate::reader::Reader;

/// The first eight bytes of every brokkr state file.
pub const MAGIC: [u8; 8] = *b"brokkrDB";

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// Header bytes before the body.
pub const HEADER_BYTES: usize = 28;

/// Checksum bytes after the body.
pub const CHECKSUM_BYTES: usize = 4;

/// What a state file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Retained messages (`retained.db`).
    Retained = 1,
    /// Persistent sessions (`sessions.db`).
    Sessions = 2,
    /// The first journal generation the snapshot files do not cover (`journal.base`).
    JournalBase = 3,
}

/// Wrap `body` in the header and checksum.
pub(crate) fn frame(kind: Kind, saved_at_ms: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len() + CHECKSUM_BYTES);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.push(kind as u8);
    out.push(0);
    out.extend_from_slice(&saved_at_ms.to_be_bytes());
    out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    out.extend_from_slice(body);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Check the header and checksum of a `kind` file; returns its save epoch and body.
pub(crate) fn unframe(kind: Kind, bytes: &[u8]) -> Result<(u64, &[u8]), PersistError> {
    let mut r = Reader::new(bytes);
    if r.take(MAGIC.len()).map_err(|_| PersistError::BadMagic)? != MAGIC {
        return Err(PersistError::BadMagic);
    }
    let version = r.u16()?;
    if version != FORMAT_VERSION {
        return Err(PersistError::UnsupportedVersion(version));
    }
    let found = r.u8()?;
    if found != kind as u8 {
        return Err(PersistError::WrongKind(found));
    }
    if r.u8()? != 0 {
        return Err(PersistError::Invalid("reserved header byte"));
    }
    let saved_at_ms = r.u64()?;
    let body_len = r.u64()?;
    let present = bytes.len() - HEADER_BYTES.min(bytes.len());
    let expected = usize::try_from(body_len)
        .ok()
        .and_then(|n| n.checked_add(CHECKSUM_BYTES))
        .ok_or(PersistError::Truncated)?;
    if present < expected {
        return Err(PersistError::Truncated);
    }
    if present > expected {
        return Err(PersistError::TrailingBytes);
    }
    let (covered, stored) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
    let stored = Reader::new(stored).u32()?;
    let computed = crc32fast::hash(covered);
    if stored != computed {
        return Err(PersistError::ChecksumMismatch { stored, computed });
    }
    let body = covered.get(HEADER_BYTES..).ok_or(PersistError::Truncated)?;
    Ok((saved_at_ms, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_and_detects_every_single_bit_flip() {
        let file = frame(Kind::Sessions, 1_700_000_000_000, b"body bytes");
        assert_eq!(file.len(), HEADER_BYTES + 10 + CHECKSUM_BYTES);
        assert_eq!(
            unframe(Kind::Sessions, &file),
            Ok((1_700_000_000_000, &b"body bytes"[..]))
        );
        for bit in 0..file.len() * 8 {
            let mut bad = file.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(unframe(Kind::Sessions, &bad).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn header_faults_are_named() {
        let file = frame(Kind::Retained, 5, b"xyz");
        assert_eq!(
            unframe(Kind::Sessions, &file),
            Err(PersistError::WrongKind(1))
        );
        let mut v2 = file.clone();
        v2[9] = 2;
        assert_eq!(
            unframe(Kind::Retained, &v2),
            Err(PersistError::UnsupportedVersion(2))
        );
        let mut magic = file.clone();
        magic[0] = b'B';
        assert_eq!(unframe(Kind::Retained, &magic), Err(PersistError::BadMagic));
        assert_eq!(
            unframe(Kind::Retained, &file[..3]),
            Err(PersistError::BadMagic)
        );
        for cut in 8..file.len() {
            assert_eq!(
                unframe(Kind::Retained, &file[..cut]),
                Err(PersistError::Truncated),
                "cut at {cut}"
            );
        }
        let mut longer = file.clone();
        longer.push(0);
        assert_eq!(
            unframe(Kind::Retained, &longer),
            Err(PersistError::TrailingBytes)
        );
    }
}
