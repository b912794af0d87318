//! Inbound QoS 2: packet identifiers for which PUBREC was sent and PUBREL is awaited.
//!
//! A PUBLISH with such an identifier is a duplicate (MQTT-4.3.3-9 in 5.0): it is acknowledged
//! again with PUBREC and not delivered a second time. PUBREL frees the identifier; after PUBCOMP
//! the same identifier starts a new message (MQTT-4.3.3-12). The number of identifiers held is
//! capped by the Receive Maximum we advertised (MQTT-3.3.4-9: more is a protocol violation,
//! reason 0x93).

use brokkr_codec::PacketId;
use rustc_hash::FxHashSet;

/// What to do with an inbound QoS 2 PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos2Receipt {
    /// First time: deliver it, then answer PUBREC.
    New,
    /// Already received, PUBREL not yet: answer PUBREC, do not deliver again.
    Duplicate,
    /// Over the Receive Maximum: DISCONNECT with 0x93.
    OverReceiveMaximum,
}

/// Identifiers awaiting PUBREL, for one session. The set is allocated by the first QoS 2
/// PUBLISH (most sessions never receive one), then kept.
#[derive(Debug, Clone, Default)]
pub struct InboundQos2 {
    pending: Option<Box<FxHashSet<u16>>>,
}

impl InboundQos2 {
    /// Record a QoS 2 PUBLISH with `id`; `receive_maximum` is what we advertised.
    pub fn receive(&mut self, id: PacketId, receive_maximum: u16) -> Qos2Receipt {
        let pending = self.pending.get_or_insert_with(Box::default);
        if pending.contains(&id.get()) {
            return Qos2Receipt::Duplicate;
        }
        if pending.len() >= usize::from(receive_maximum) {
            return Qos2Receipt::OverReceiveMaximum;
        }
        pending.insert(id.get());
        Qos2Receipt::New
    }

    /// PUBREL for `id`: true if it was pending (PUBCOMP with Success), false if not (PUBCOMP with
    /// 0x92 Packet Identifier not found in MQTT 5; 3.x answers PUBCOMP anyway).
    pub fn release(&mut self, id: PacketId) -> bool {
        self.pending.as_mut().is_some_and(|p| p.remove(&id.get()))
    }

    /// Identifiers awaiting PUBREL.
    pub fn len(&self) -> usize {
        self.pending.as_ref().map_or(0, |p| p.len())
    }

    /// True when none is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Identifiers awaiting PUBREL, in increasing order (for a saved session).
    pub fn ids(&self) -> Vec<PacketId> {
        let mut ids: Vec<PacketId> = self
            .pending
            .iter()
            .flat_map(|p| p.iter())
            .filter_map(|&id| PacketId::new(id))
            .collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    #[test]
    fn duplicates_until_pubrel_then_new() {
        let mut q = InboundQos2::default();
        assert_eq!(q.receive(id(5), 10), Qos2Receipt::New);
        assert_eq!(q.receive(id(5), 10), Qos2Receipt::Duplicate);
        assert!(q.release(id(5)));
        assert!(!q.release(id(5)));
        assert_eq!(q.receive(id(5), 10), Qos2Receipt::New);
    }

    #[test]
    fn nothing_is_allocated_before_the_first_qos2_publish() {
        let mut q = InboundQos2::default();
        assert!(!q.release(id(1)));
        assert!(q.is_empty() && q.ids().is_empty());
        assert!(q.pending.is_none());
        assert_eq!(q.receive(id(1), 10), Qos2Receipt::New);
        assert_eq!(q.ids(), vec![id(1)]);
    }

    #[test]
    fn receive_maximum_is_enforced() {
        let mut q = InboundQos2::default();
        assert_eq!(q.receive(id(1), 2), Qos2Receipt::New);
        assert_eq!(q.receive(id(2), 2), Qos2Receipt::New);
        assert_eq!(q.receive(id(3), 2), Qos2Receipt::OverReceiveMaximum);
        assert_eq!(q.receive(id(2), 2), Qos2Receipt::Duplicate);
        assert_eq!(q.len(), 2);
    }
}
