//! PUBACK (MQTT 5 section 3.4, MQTT 3.1.1 section 3.4): the answer to a QoS 1 PUBLISH.

use super::PacketType;
use super::ack::pub_response;
use crate::reason::ReasonContext;

pub_response!(
    /// PUBACK: fixed-header flags 0000.
    PubAck,
    PacketType::PubAck,
    0,
    ReasonContext::PubAckRec
);
