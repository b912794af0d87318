//! Outbound QoS 1 and 2: the in-flight window and the queue behind it.
//!
//! Messages are offered in order and sent in that order (MQTT-4.6.0: ordered topics); at most
//! `send_quota` are in flight (the client's Receive Maximum, MQTT-3.3.4-7; reset on every
//! reconnect), the rest wait in the queue. In-flight plus queued messages are capped at
//! `messages_max` and queued bytes at `bytes_max` (one message always fits); an offer beyond a
//! cap is dropped and counted, never grown. On reconnect, unacknowledged PUBLISHes are resent in
//! order with DUP set and PUBRELs are resent (MQTT-4.4.0-1).
//!
//! Most sessions never carry a QoS 1/2 message (and an idle one carries none), so the window,
//! the queue and the packet identifiers in use live in a box allocated by the first offer or
//! restore: a session without QoS 1/2 traffic keeps only its caps here.

use crate::ids::PacketIds;
use brokkr_codec::{PacketId, QoS};
use std::collections::VecDeque;

/// A message that can wait in a session's queue.
pub trait Queued {
    /// The QoS it will be delivered with (1 or 2).
    fn qos(&self) -> QoS;
    /// Bytes it costs while queued.
    fn weight_bytes(&self) -> usize;
}

/// Where an in-flight message is in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundState {
    /// QoS 1 PUBLISH sent, PUBACK awaited.
    AwaitingPubAck,
    /// QoS 2 PUBLISH sent, PUBREC awaited.
    AwaitingPubRec,
    /// PUBREL sent, PUBCOMP awaited; the message itself is no longer needed.
    AwaitingPubComp,
}

#[derive(Debug, Clone)]
struct InFlight<M> {
    id: PacketId,
    state: OutboundState,
    message: Option<M>,
}

/// An acknowledgement that does not fit the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    /// No message in flight has this identifier (MQTT 5: PUBREL/PUBCOMP answer 0x92).
    UnknownId,
    /// The identifier is in flight but in another state (PUBACK for a QoS 2 message...): a
    /// protocol error.
    WrongState,
}

/// What to resend on reconnect, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resend<M> {
    /// PUBLISH again with DUP set.
    Publish(PacketId, M),
    /// PUBREL again.
    PubRel(PacketId),
}

/// The outbound QoS 1/2 state of one session.
#[derive(Debug, Clone)]
pub struct Outbound<M> {
    /// Allocated by the first offer or restore, then kept.
    flows: Option<Box<Flows<M>>>,
    bytes_max: usize,
    messages_max: u32,
    send_quota: u16,
}

/// Everything that exists once a QoS 1/2 message was offered.
#[derive(Debug, Clone)]
struct Flows<M> {
    in_flight: VecDeque<InFlight<M>>,
    queue: VecDeque<M>,
    queued_bytes: usize,
    ids: PacketIds,
    dropped: u64,
}

impl<M> Default for Flows<M> {
    fn default() -> Self {
        Flows {
            in_flight: VecDeque::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            ids: PacketIds::new(),
            dropped: 0,
        }
    }
}

impl<M: Queued + Clone> Outbound<M> {
    /// Empty state with the session's caps; allocates nothing until a message is offered.
    pub fn new(send_quota: u16, messages_max: usize, bytes_max: usize) -> Self {
        Outbound {
            flows: None,
            bytes_max,
            messages_max: u32::try_from(messages_max).unwrap_or(u32::MAX),
            send_quota,
        }
    }

    fn flows_mut(&mut self) -> &mut Flows<M> {
        self.flows.get_or_insert_with(Box::default)
    }

    /// Queue `message` for sending. `Err(message)` when a cap is reached: the message is dropped
    /// (and counted); the caller may log it.
    pub fn offer(&mut self, message: M) -> Result<(), M> {
        debug_assert!(message.qos() != QoS::AtMostOnce, "QoS 0 is never queued");
        let (messages_max, bytes_max) = (self.messages_max as usize, self.bytes_max);
        let f = self.flows_mut();
        let total = f.in_flight.len() + f.queue.len();
        let bytes = f.queued_bytes.saturating_add(message.weight_bytes());
        if total >= messages_max || (bytes > bytes_max && !f.queue.is_empty()) {
            f.dropped += 1;
            return Err(message);
        }
        f.queued_bytes = bytes;
        f.queue.push_back(message);
        Ok(())
    }

    /// The next message to send now, with its new packet identifier, if the window has room.
    pub fn next_to_send(&mut self) -> Option<(PacketId, M)> {
        let quota = usize::from(self.send_quota);
        let f = self.flows.as_deref_mut()?;
        if f.in_flight.len() >= quota {
            return None;
        }
        let message = f.queue.pop_front()?;
        f.queued_bytes -= message.weight_bytes();
        let Some(id) = f.ids.allocate() else {
            // Cannot happen while send_quota <= 65535; put it back rather than lose it.
            f.queued_bytes += message.weight_bytes();
            f.queue.push_front(message);
            return None;
        };
        let state = match message.qos() {
            QoS::ExactlyOnce => OutboundState::AwaitingPubRec,
            _ => OutboundState::AwaitingPubAck,
        };
        f.in_flight.push_back(InFlight {
            id,
            state,
            message: Some(message.clone()),
        });
        Some((id, message))
    }

    fn position(&self, id: PacketId, state: OutboundState) -> Result<usize, AckError> {
        let f = self.flows.as_deref().ok_or(AckError::UnknownId)?;
        let pos = f
            .in_flight
            .iter()
            .position(|f| f.id == id)
            .ok_or(AckError::UnknownId)?;
        match f.in_flight.get(pos) {
            Some(f) if f.state == state => Ok(pos),
            _ => Err(AckError::WrongState),
        }
    }

    /// End the flow at `pos`; its message, if it still had one.
    fn finish(&mut self, pos: usize) -> Option<M> {
        let f = self.flows.as_deref_mut()?;
        // Acknowledgements mostly come in order: the oldest flow ends.
        let done = if pos == 0 {
            f.in_flight.pop_front()
        } else {
            f.in_flight.remove(pos)
        }?;
        f.ids.release(done.id);
        done.message
    }

    /// PUBACK for a QoS 1 message: it is done.
    pub fn puback(&mut self, id: PacketId) -> Result<(), AckError> {
        self.puback_take(id).map(drop)
    }

    /// [`Outbound::puback`], handing back the message the flow held (the broker reuses its
    /// allocation).
    pub fn puback_take(&mut self, id: PacketId) -> Result<Option<M>, AckError> {
        let pos = self.position(id, OutboundState::AwaitingPubAck)?;
        Ok(self.finish(pos))
    }

    /// PUBREC for a QoS 2 message: answer PUBREL. A PUBREC with an error reason (MQTT 5,
    /// `accepted == false`) ends the flow instead (MQTT-4.3.3-4 does not apply then).
    pub fn pubrec(&mut self, id: PacketId, accepted: bool) -> Result<(), AckError> {
        self.pubrec_take(id, accepted).map(drop)
    }

    /// [`Outbound::pubrec`], handing back the message the flow no longer needs.
    pub fn pubrec_take(&mut self, id: PacketId, accepted: bool) -> Result<Option<M>, AckError> {
        let pos = self.position(id, OutboundState::AwaitingPubRec)?;
        if !accepted {
            return Ok(self.finish(pos));
        }
        let Some(f) = self
            .flows
            .as_deref_mut()
            .and_then(|f| f.in_flight.get_mut(pos))
        else {
            return Ok(None);
        };
        f.state = OutboundState::AwaitingPubComp;
        Ok(f.message.take())
    }

    /// PUBCOMP: the QoS 2 flow is done.
    pub fn pubcomp(&mut self, id: PacketId) -> Result<(), AckError> {
        let pos = self.position(id, OutboundState::AwaitingPubComp)?;
        self.finish(pos);
        Ok(())
    }

    /// Give up on an in-flight message whatever its state (it could not be sent: larger than the
    /// client's Maximum Packet Size, MQTT-3.1.2-25). False if `id` was not in flight.
    pub fn abandon(&mut self, id: PacketId) -> bool {
        let pos = self
            .flows
            .as_deref()
            .and_then(|f| f.in_flight.iter().position(|f| f.id == id));
        match pos {
            Some(pos) => {
                self.finish(pos);
                true
            }
            None => false,
        }
    }

    /// On reconnect: the new connection's Receive Maximum, and what to resend first, in order.
    pub fn resume(&mut self, send_quota: u16) -> Vec<Resend<M>> {
        self.send_quota = send_quota;
        self.in_flight_entries()
            .map(|(id, state, message)| match (message, state) {
                (Some(m), OutboundState::AwaitingPubAck | OutboundState::AwaitingPubRec) => {
                    Resend::Publish(id, m.clone())
                }
                _ => Resend::PubRel(id),
            })
            .collect()
    }

    /// Messages in flight.
    pub fn in_flight(&self) -> usize {
        self.flows.as_deref().map_or(0, |f| f.in_flight.len())
    }

    /// Messages waiting behind the window.
    pub fn queued(&self) -> usize {
        self.flows.as_deref().map_or(0, |f| f.queue.len())
    }

    /// Bytes of queued messages.
    pub fn queued_bytes(&self) -> usize {
        self.flows.as_deref().map_or(0, |f| f.queued_bytes)
    }

    /// Messages dropped at a cap since the session began.
    pub fn dropped(&self) -> u64 {
        self.flows.as_deref().map_or(0, |f| f.dropped)
    }

    /// In-flight flows in the order they started: identifier, state, and the message until
    /// PUBREC (for a saved session).
    pub fn in_flight_entries(&self) -> impl Iterator<Item = (PacketId, OutboundState, Option<&M>)> {
        self.flows
            .as_deref()
            .into_iter()
            .flat_map(|f| f.in_flight.iter())
            .map(|f| (f.id, f.state, f.message.as_ref()))
    }

    /// Messages waiting behind the window, in order (for a saved session).
    pub fn queued_messages(&self) -> impl Iterator<Item = &M> {
        self.flows
            .as_deref()
            .into_iter()
            .flat_map(|f| f.queue.iter())
    }

    /// The packet identifier handed out last (0 before the first).
    pub fn last_packet_id(&self) -> u16 {
        self.flows.as_deref().map_or(0, |f| f.ids.last())
    }

    /// Put back a flow of a saved session, after those restored before it, and continue packet
    /// identifiers after `last_packet_id`. Caps do not apply: these messages were already sent.
    /// False (nothing changed) if `id` is already in flight or the message does not fit the
    /// state (one is needed before PUBREC, none after).
    pub fn restore_in_flight(
        &mut self,
        id: PacketId,
        state: OutboundState,
        message: Option<M>,
    ) -> bool {
        let fits = match state {
            OutboundState::AwaitingPubComp => message.is_none(),
            OutboundState::AwaitingPubAck => message
                .as_ref()
                .is_some_and(|m| m.qos() == QoS::AtLeastOnce),
            OutboundState::AwaitingPubRec => message
                .as_ref()
                .is_some_and(|m| m.qos() == QoS::ExactlyOnce),
        };
        if !fits {
            return false;
        }
        let f = self.flows_mut();
        if !f.ids.claim(id) {
            return false;
        }
        f.in_flight.push_back(InFlight { id, state, message });
        true
    }

    /// Continue packet identifiers after `last` (a saved session's).
    pub fn restore_last_packet_id(&mut self, last: u16) {
        if last != 0 || self.flows.is_some() {
            self.flows_mut().ids.set_last(last);
        }
    }

    /// Drop queued messages for which `expired` says so (message expiry); returns how many.
    pub fn purge_queued(&mut self, mut expired: impl FnMut(&M) -> bool) -> usize {
        let Some(f) = self.flows.as_deref_mut() else {
            return 0;
        };
        let before = f.queue.len();
        let mut bytes = 0;
        f.queue.retain(|m| {
            let keep = !expired(m);
            if keep {
                bytes += m.weight_bytes();
            }
            keep
        });
        f.queued_bytes = bytes;
        before - f.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct M(u32, QoS, usize);

    impl Queued for M {
        fn qos(&self) -> QoS {
            self.1
        }
        fn weight_bytes(&self) -> usize {
            self.2
        }
    }

    fn q1(n: u32) -> M {
        M(n, QoS::AtLeastOnce, 10)
    }

    #[test]
    fn window_limits_in_flight_and_keeps_order() {
        let mut o = Outbound::new(2, 100, 1000);
        for n in 0..5 {
            o.offer(q1(n)).unwrap();
        }
        let (a, ma) = o.next_to_send().unwrap();
        let (_, mb) = o.next_to_send().unwrap();
        assert!(o.next_to_send().is_none(), "window of 2");
        assert_eq!((ma.0, mb.0), (0, 1));
        o.puback(a).unwrap();
        assert_eq!(o.next_to_send().unwrap().1.0, 2);
        assert_eq!(o.queued(), 2);
    }

    #[test]
    fn nothing_is_allocated_until_a_message_is_offered() {
        let mut o: Outbound<M> = Outbound::new(10, 100, 1000);
        assert!(o.flows.is_none());
        assert!(o.next_to_send().is_none());
        assert_eq!(
            o.puback(PacketId::new(1).unwrap()),
            Err(AckError::UnknownId)
        );
        assert!(!o.abandon(PacketId::new(1).unwrap()));
        assert!(o.resume(5).is_empty());
        o.restore_last_packet_id(0);
        assert!(o.flows.is_none(), "a saved last id of 0 restores nothing");
        assert_eq!((o.in_flight(), o.queued(), o.last_packet_id()), (0, 0, 0));
        o.offer(q1(1)).unwrap();
        assert!(o.flows.is_some());
        assert!(std::mem::size_of::<Outbound<M>>() <= 24);
    }

    #[test]
    fn caps_drop_and_count() {
        let mut o = Outbound::new(10, 3, 25);
        o.offer(q1(0)).unwrap();
        o.offer(q1(1)).unwrap();
        assert!(o.offer(q1(2)).is_err(), "bytes cap: 30 > 25");
        let mut big = Outbound::new(10, 3, 5);
        big.offer(q1(0)).unwrap(); // one message always fits
        assert!(big.offer(q1(1)).is_err());
        let mut count = Outbound::new(10, 2, 1000);
        count.offer(q1(0)).unwrap();
        count.offer(q1(1)).unwrap();
        assert!(count.offer(q1(2)).is_err(), "message cap");
        assert_eq!(count.dropped(), 1);
    }

    #[test]
    fn qos2_flow_and_wrong_acks() {
        let mut o = Outbound::new(5, 10, 1000);
        o.offer(M(7, QoS::ExactlyOnce, 10)).unwrap();
        let (id, _) = o.next_to_send().unwrap();
        assert_eq!(o.puback(id), Err(AckError::WrongState));
        assert_eq!(o.pubcomp(id), Err(AckError::WrongState));
        o.pubrec(id, true).unwrap();
        assert_eq!(o.pubrec(id, true), Err(AckError::WrongState));
        o.pubcomp(id).unwrap();
        assert_eq!(o.pubcomp(id), Err(AckError::UnknownId));
        assert_eq!(o.in_flight(), 0);
    }

    #[test]
    fn mqtt_4_4_0_1_resume_resends_in_order_with_pubrel() {
        let mut o = Outbound::new(5, 10, 1000);
        o.offer(q1(1)).unwrap();
        o.offer(M(2, QoS::ExactlyOnce, 10)).unwrap();
        o.offer(M(3, QoS::ExactlyOnce, 10)).unwrap();
        let (a, _) = o.next_to_send().unwrap();
        let (b, _) = o.next_to_send().unwrap();
        let (c, _) = o.next_to_send().unwrap();
        o.pubrec(b, true).unwrap();
        let resend = o.resume(1);
        assert_eq!(
            resend,
            vec![
                Resend::Publish(a, q1(1)),
                Resend::PubRel(b),
                Resend::Publish(c, M(3, QoS::ExactlyOnce, 10))
            ]
        );
    }

    #[test]
    fn expired_queued_messages_are_purged_and_free_their_bytes() {
        let mut o = Outbound::new(0, 10, 1000);
        for n in 0..4 {
            o.offer(q1(n)).unwrap();
        }
        assert_eq!(o.purge_queued(|m| m.0 % 2 == 0), 2);
        assert_eq!((o.queued(), o.queued_bytes()), (2, 20));
    }

    #[test]
    fn restored_flows_resend_in_order_and_keep_their_ids() {
        let mut o = Outbound::new(5, 10, 1000);
        let id = |n| PacketId::new(n).unwrap();
        let q2 = M(2, QoS::ExactlyOnce, 10);
        assert!(o.restore_in_flight(id(7), OutboundState::AwaitingPubAck, Some(q1(1))));
        assert!(o.restore_in_flight(id(3), OutboundState::AwaitingPubComp, None));
        assert!(!o.restore_in_flight(id(3), OutboundState::AwaitingPubRec, Some(q2.clone())));
        assert!(!o.restore_in_flight(id(4), OutboundState::AwaitingPubRec, Some(q1(9))));
        assert!(!o.restore_in_flight(id(4), OutboundState::AwaitingPubComp, Some(q1(9))));
        o.restore_last_packet_id(7);
        o.offer(q2.clone()).unwrap();
        assert_eq!(
            o.resume(5),
            vec![Resend::Publish(id(7), q1(1)), Resend::PubRel(id(3))]
        );
        assert_eq!(o.next_to_send(), Some((id(8), q2)));
        let entries: Vec<_> = o.in_flight_entries().map(|(i, s, _)| (i, s)).collect();
        assert_eq!(entries[1], (id(3), OutboundState::AwaitingPubComp));
        assert_eq!(o.last_packet_id(), 8);
    }
}
