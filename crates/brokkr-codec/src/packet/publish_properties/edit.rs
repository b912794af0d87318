//! Writing a PUBLISH property block with changes, for forwarding: the broker removes the
//! publisher's Topic Alias and Subscription Identifiers, lowers the Message Expiry Interval by the
//! time waited (MQTT-3.3.2-6) and adds the subscriber's alias and identifiers.
//!
//! [`PropertyEdits`] says what changes; the received properties are copied span by span, as
//! bytes, never parsed into values, and a no-op edit writes the block verbatim. Lengths are
//! counted by the same walk that writes ([`Out`]), so the two cannot disagree. The output is
//! always a valid block: every property set here replaces all received ones with its identifier.

use super::PublishProperties;
use crate::error::EncodeError;
use crate::properties::id;
use crate::vbi::{VBI_MAX, vbi_len, write_vbi};
use bytes::{BufMut, BytesMut};
use std::num::{NonZeroU16, NonZeroU32};

/// A set of property identifiers (all are below 64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct IdSet(u64);

impl IdSet {
    /// No identifiers.
    pub const EMPTY: IdSet = IdSet(0);

    /// This set and `pid`. Identifiers of 64 and above are no property's and are ignored.
    pub const fn with(self, pid: u8) -> IdSet {
        if pid < 64 {
            IdSet(self.0 | 1 << pid)
        } else {
            self
        }
    }

    /// True when `pid` is in the set.
    pub const fn contains(self, pid: u8) -> bool {
        pid < 64 && self.0 & (1 << pid) != 0
    }
}

/// Changes applied while a block is copied. The default changes nothing.
///
/// Received properties in `remove` are left out. A property given a value here takes the place
/// of the first received property with its identifier (other received ones with that identifier
/// are left out), or is appended after the received ones, in the order of the fields below.
#[derive(Debug, Clone, Copy, Default)]
pub struct PropertyEdits<'a> {
    /// Received properties to leave out.
    pub remove: IdSet,
    /// Message Expiry Interval to send, in seconds.
    pub message_expiry_interval_secs: Option<u32>,
    /// Topic Alias to send.
    pub topic_alias: Option<NonZeroU16>,
    /// Subscription Identifiers to send (none: nothing set).
    pub subscription_identifiers: &'a [NonZeroU32],
}

impl PropertyEdits<'_> {
    /// True when copying with these edits writes the block unchanged.
    pub fn is_noop(&self) -> bool {
        self.remove == IdSet::EMPTY && self.set_ids() == IdSet::EMPTY
    }

    /// Identifiers that get a value here.
    fn set_ids(&self) -> IdSet {
        let mut ids = IdSet::EMPTY;
        if self.message_expiry_interval_secs.is_some() {
            ids = ids.with(id::MESSAGE_EXPIRY_INTERVAL);
        }
        if self.topic_alias.is_some() {
            ids = ids.with(id::TOPIC_ALIAS);
        }
        if !self.subscription_identifiers.is_empty() {
            ids = ids.with(id::SUBSCRIPTION_IDENTIFIER);
        }
        ids
    }

    /// Write the value(s) set for `pid`, identifiers included.
    fn emit(&self, pid: u8, out: &mut impl Out) {
        match pid {
            id::MESSAGE_EXPIRY_INTERVAL => {
                if let Some(v) = self.message_expiry_interval_secs {
                    out.bytes(&[pid]);
                    out.bytes(&v.to_be_bytes());
                }
            }
            id::TOPIC_ALIAS => {
                if let Some(v) = self.topic_alias {
                    out.bytes(&[pid]);
                    out.bytes(&v.get().to_be_bytes());
                }
            }
            id::SUBSCRIPTION_IDENTIFIER => {
                for v in self.subscription_identifiers {
                    out.bytes(&[pid]);
                    out.vbi(v.get());
                }
            }
            _ => {}
        }
    }
}

/// Where an edited block goes: a byte counter or a buffer.
trait Out {
    fn bytes(&mut self, b: &[u8]);
    fn vbi(&mut self, v: u32);
}

#[derive(Default)]
struct Count {
    len: usize,
    too_large: bool,
}

impl Out for Count {
    fn bytes(&mut self, b: &[u8]) {
        self.len += b.len();
    }
    fn vbi(&mut self, v: u32) {
        self.too_large |= v > VBI_MAX;
        self.len += vbi_len(v);
    }
}

impl Out for BytesMut {
    fn bytes(&mut self, b: &[u8]) {
        self.put_slice(b);
    }
    fn vbi(&mut self, v: u32) {
        write_vbi(self, v);
    }
}

/// The order set properties are appended in.
const APPENDED: [u8; 3] = [
    id::MESSAGE_EXPIRY_INTERVAL,
    id::TOPIC_ALIAS,
    id::SUBSCRIPTION_IDENTIFIER,
];

impl PublishProperties {
    /// Copy the block with `edits` applied into `out` (no length prefix).
    fn walk_edited(&self, edits: &PropertyEdits<'_>, out: &mut impl Out) {
        let set = edits.set_ids();
        let mut written = IdSet::EMPTY;
        for (pid, span) in self.spans() {
            if set.contains(pid) {
                if !written.contains(pid) {
                    edits.emit(pid, out);
                    written = written.with(pid);
                }
            } else if !edits.remove.contains(pid) {
                out.bytes(span);
            }
        }
        for pid in APPENDED {
            if set.contains(pid) && !written.contains(pid) {
                edits.emit(pid, out);
            }
        }
    }

    /// Length of the block with `edits` applied, without its length prefix.
    pub fn edited_len(&self, edits: &PropertyEdits<'_>) -> Result<usize, EncodeError> {
        if edits.is_noop() {
            return Ok(self.as_bytes().len());
        }
        let mut count = Count::default();
        self.walk_edited(edits, &mut count);
        if count.too_large || count.len > VBI_MAX as usize {
            return Err(EncodeError::TooLarge);
        }
        Ok(count.len)
    }

    /// Write the block with `edits` applied, length prefix first. `len` is what
    /// [`edited_len`](Self::edited_len) returned for the same edits.
    pub(crate) fn write_edited(&self, edits: &PropertyEdits<'_>, len: usize, out: &mut BytesMut) {
        write_vbi(out, u32::try_from(len).unwrap_or(VBI_MAX));
        if edits.is_noop() {
            out.put_slice(self.as_bytes());
            return;
        }
        let start = out.len();
        self.walk_edited(edits, out);
        debug_assert_eq!(out.len() - start, len, "edited property length mismatch");
    }

    /// A new block with `edits` applied (one allocation, unless nothing changes).
    pub fn edited(&self, edits: &PropertyEdits<'_>) -> Result<PublishProperties, EncodeError> {
        if edits.is_noop() {
            return Ok(self.clone());
        }
        let len = self.edited_len(edits)?;
        let mut out = BytesMut::with_capacity(len);
        self.walk_edited(edits, &mut out);
        Ok(PublishProperties::from_written(out.freeze()))
    }

    /// The block without the properties in `ids` (itself when none is present).
    pub fn without(self, ids: IdSet) -> PublishProperties {
        if !self.contains_any(ids) {
            return self;
        }
        let edits = PropertyEdits {
            remove: ids,
            ..PropertyEdits::default()
        };
        // Removing properties only shrinks a valid block, so this cannot fail.
        self.edited(&edits).unwrap_or_default()
    }
}
