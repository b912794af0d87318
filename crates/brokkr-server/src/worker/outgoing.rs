//! Bytes on their way to one connection's socket: what a vectored write did not take, in
//! order, with the credit each chunk stands for in the shard's accounting.

use crate::stream::Stream;
use bytes::Bytes;
use std::collections::VecDeque;
use std::io::{ErrorKind, IoSlice};

/// Most chunks handed to one vectored write.
const WRITE_SLICES_MAX: usize = 64;

/// Bytes waiting for the socket, in order; the first chunk may be partly written. Each chunk
/// carries the number of the shard's bytes it stands for (a sealed chunk's TLS or websocket
/// framing makes it longer; a transport's own bytes stand for none): the shard hears they
/// left only when the chunk is written, so its write-buffer cap bounds what waits here.
#[derive(Debug, Default)]
pub(super) struct Outgoing {
    chunks: VecDeque<(Bytes, usize)>,
    /// Bytes of the first chunk already written.
    offset: usize,
}

impl Outgoing {
    pub(super) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Queue `bytes`, which stand for `credit` of the shard's bytes.
    pub(super) fn push(&mut self, bytes: Bytes, credit: usize) {
        if !bytes.is_empty() {
            self.chunks.push_back((bytes, credit));
        }
    }

    /// Write as much as the socket takes now. `Ok(credit)`: the shard's bytes of the chunks
    /// written completely; `Err` when the socket failed.
    pub(super) fn write_some(&mut self, stream: &Stream) -> std::io::Result<usize> {
        let mut total = 0;
        while !self.chunks.is_empty() {
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES_MAX];
            let mut used = 0;
            for (slot, (i, (chunk, _))) in slices.iter_mut().zip(self.chunks.iter().enumerate()) {
                let from = if i == 0 { self.offset } else { 0 };
                *slot = IoSlice::new(chunk.get(from..).unwrap_or_default());
                used += 1;
            }
            let n = match stream.try_write_vectored(slices.get(..used).unwrap_or_default()) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            total += self.consume(n);
        }
        Ok(total)
    }

    /// Drop `n` written bytes from the front; returns the credit of the chunks finished.
    pub(super) fn consume(&mut self, mut n: usize) -> usize {
        let mut credit = 0;
        while let Some((front, c)) = self.chunks.front() {
            let left = front.len().saturating_sub(self.offset);
            if n < left {
                self.offset += n;
                break;
            }
            n -= left;
            credit += c;
            self.offset = 0;
            self.chunks.pop_front();
        }
        credit
    }

    /// Everything not written yet, as one buffer (for a connection moving to another worker).
    pub(super) fn unsent(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (chunk, _)) in self.chunks.iter().enumerate() {
            let from = if i == 0 { self.offset } else { 0 };
            out.extend_from_slice(chunk.get(from..).unwrap_or_default());
        }
        self.chunks.clear();
        self.offset = 0;
        out
    }
}
