//! PUBREC (MQTT 5 section 3.5, MQTT 3.1.1 section 3.5): the first answer to a QoS 2 PUBLISH.

use super::PacketType;
use super::ack::pub_response;
use crate::reason::ReasonContext;

pub_response!(
    /// PUBREC: fixed-header flags 0000.
    PubRec,
    PacketType::PubRec,
    0,
    ReasonContext::PubAckRec
);
