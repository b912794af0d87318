//! PUBREL (MQTT 5 section 3.6, MQTT 3.1.1 section 3.6): the answer to PUBREC.
//!
//! Its fixed-header flags are 0010 in every version (MQTT-3.6.1-1); anything else is malformed.

use super::PacketType;
use super::ack::pub_response;
use crate::reason::ReasonContext;

pub_response!(
    /// PUBREL: fixed-header flags 0010.
    PubRel,
    PacketType::PubRel,
    0b0010,
    ReasonContext::PubRelComp
);
