//! PUBCOMP (MQTT 5 section 3.7, MQTT 3.1.1 section 3.7): the answer to PUBREL, which ends the
//! QoS 2 exchange.

use super::PacketType;
use super::ack::pub_response;
use crate::reason::ReasonContext;

pub_response!(
    /// PUBCOMP: fixed-header flags 0000.
    PubComp,
    PacketType::PubComp,
    0,
    ReasonContext::PubRelComp
);
