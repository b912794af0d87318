//! Session state that outlives a connection: the outbound QoS 1/2 window and queue, and the
//! inbound QoS 2 identifiers awaiting PUBREL.
//!
//! These are the broker's delivery guarantees, so they are plain data structures with hard caps,
//! tested against models; the shard drives them.

mod inbound;
mod outbound;

pub use inbound::{InboundQos2, Qos2Receipt};
pub use outbound::{AckError, Outbound, OutboundState, Queued, Resend};
