//! A bounded reader over one packet body.
//!
//! Every read checks the remaining length first and fails with a malformed-packet error instead of
//! panicking; slices are shared with the body (`Bytes`), never copied. [`Reader::finish`] rejects
//! trailing bytes, so a packet is either consumed exactly or refused.

use crate::error::DecodeError;
use crate::string::MqttString;
use crate::vbi::{VbiRead, read_vbi};
use bytes::Bytes;

/// Cursor over the bytes of one packet (or one property block).
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
}

fn short(what: &'static str) -> DecodeError {
    DecodeError::malformed(what)
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Reader { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The bytes not read yet, borrowed (for validating in place before taking a slice).
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let (&byte, _) = self.buf.split_first().ok_or(short(what))?;
        self.advance(1);
        Ok(byte)
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let bytes: [u8; 2] = self.array(what)?;
        Ok(u16::from_be_bytes(bytes))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let bytes: [u8; 4] = self.array(what)?;
        Ok(u32::from_be_bytes(bytes))
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let head = self.buf.first_chunk::<N>().ok_or(short(what))?;
        let out = *head;
        self.advance(N);
        Ok(out)
    }

    pub(crate) fn vbi(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        // One byte below 0x80 is a complete, minimal integer: the common case, read at once.
        if let Some(&byte) = self.buf.first()
            && byte < 0x80
        {
            self.advance(1);
            return Ok(u32::from(byte));
        }
        match read_vbi(&self.buf)? {
            VbiRead::Value { value, len } => {
                self.advance(len);
                Ok(value)
            }
            VbiRead::Incomplete => Err(short(what)),
        }
    }

    /// Take exactly `len` bytes.
    pub(crate) fn take(&mut self, len: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        if len > self.buf.len() {
            return Err(short(what));
        }
        Ok(self.buf.split_to(len))
    }

    /// Skip exactly `len` bytes.
    pub(crate) fn skip(&mut self, len: usize, what: &'static str) -> Result<(), DecodeError> {
        if len > self.buf.len() {
            return Err(short(what));
        }
        self.advance(len);
        Ok(())
    }

    /// Take everything that is left (a PUBLISH payload).
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Binary Data: two-byte length, then that many bytes.
    pub(crate) fn binary(&mut self, what: &'static str) -> Result<Bytes, DecodeError> {
        let len = self.u16(what)?;
        self.take(usize::from(len), what)
    }

    /// UTF-8 Encoded String: two-byte length, then validated UTF-8.
    pub(crate) fn string(&mut self, what: &'static str) -> Result<MqttString, DecodeError> {
        MqttString::from_bytes(self.binary(what)?)
    }

    /// Fail unless every byte was consumed.
    pub(crate) fn finish(self, what: &'static str) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::malformed(what))
        }
    }

    fn advance(&mut self, n: usize) {
        debug_assert!(n <= self.buf.len());
        bytes::Buf::advance(&mut self.buf, n);
    }
}
