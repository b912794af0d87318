//! A bounded big-endian reader over a byte slice: every read checks what is present first and
//! fails with [`PersistError::Truncated`] instead of reading past the end; [`Reader::finish`]
//! refuses trailing bytes. Nothing is allocated here: lengths read from the file only select
//! sub-slices of bytes already in memory.

use crate::PersistError;

/// A cursor over untrusted bytes.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], PersistError> {
        if n > self.rest.len() {
            return Err(PersistError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PersistError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, PersistError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, PersistError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, PersistError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, PersistError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A boolean stored as one byte, 0 or 1.
    pub(crate) fn flag(&mut self) -> Result<bool, PersistError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(PersistError::Invalid("flag byte other than 0 or 1")),
        }
    }

    /// A block with a u32 length prefix, as a reader of its own.
    pub(crate) fn block(&mut self) -> Result<Reader<'a>, PersistError> {
        let len = usize::try_from(self.u32()?).map_err(|_| PersistError::Truncated)?;
        Ok(Reader::new(self.take(len)?))
    }

    /// A UTF-8 string with a u16 length prefix (MQTT string rules are checked by the caller).
    pub(crate) fn str16(&mut self) -> Result<&'a str, PersistError> {
        let len = usize::from(self.u16()?);
        std::str::from_utf8(self.take(len)?).map_err(|_| PersistError::Invalid("string not UTF-8"))
    }

    /// Whatever is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    /// Everything must have been read.
    pub(crate) fn finish(self) -> Result<(), PersistError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(PersistError::TrailingBytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_refuses_past_the_end() {
        let mut r = Reader::new(&[0, 1, 0, 0, 0, 2, 7]);
        assert_eq!(r.u16(), Ok(1));
        assert_eq!(r.u32(), Ok(2));
        assert_eq!(r.u16(), Err(PersistError::Truncated));
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn a_block_longer_than_the_input_is_truncated_not_allocated() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert_eq!(r.block().err(), Some(PersistError::Truncated));
    }
}
