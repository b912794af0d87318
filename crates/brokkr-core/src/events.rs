//! What the broker tells its operator: logins, refusals, disconnects and, when the config asks
//! (`log_subscriptions`, `log_publishes`), subscriptions and publishes.
//!
//! The shard only records events, after [`Shard::enable_events`](crate::shard::Shard::enable_events)
//! (the server enables them; the fuzzers and most tests do not); the server formats them with
//! what it knows and the shard does not (the peer's address, the transport).

use crate::shard::ConnId;
use brokkr_codec::{ProtocolVersion, QoS, ReasonCode};
use std::sync::Arc;

/// One event, about connection `conn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A CONNECT was accepted.
    LoggedIn {
        conn: ConnId,
        client_id: String,
        username: Option<Arc<str>>,
        version: ProtocolVersion,
        session_present: bool,
    },
    /// A CONNECT was refused with `reason`.
    Refused {
        conn: ConnId,
        client_id: String,
        reason: ReasonCode,
    },
    /// A connected client went away: cleanly (a DISCONNECT without a will) or not.
    Disconnected {
        conn: ConnId,
        client_id: String,
        clean: bool,
    },
    /// `log_subscriptions`: a SUBSCRIBE filter, with the QoS granted (`None`: refused).
    Subscribed {
        conn: ConnId,
        client_id: String,
        filter: String,
        granted: Option<QoS>,
    },
    /// `log_subscriptions`: an UNSUBSCRIBE filter.
    Unsubscribed {
        conn: ConnId,
        client_id: String,
        filter: String,
    },
    /// `log_publishes`: a PUBLISH received (after alias resolution).
    Published {
        conn: ConnId,
        client_id: String,
        topic: String,
        qos: QoS,
        retain: bool,
        payload_bytes: usize,
    },
    /// A retained message whose topic needs more nodes than `retained_messages_node_creation_limit`
    /// allows: not retained (`refused`, the `reject` mode) or retained anyway (`log`). At most
    /// one a second per shard; `suppressed` counts those held back since the last one.
    RetainedLimit {
        /// The publisher's connection; none for a will.
        conn: Option<ConnId>,
        topic: String,
        refused: bool,
        suppressed: u64,
    },
}

impl Event {
    /// The connection the event is about, if any.
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            Self::LoggedIn { conn, .. }
            | Self::Refused { conn, .. }
            | Self::Disconnected { conn, .. }
            | Self::Subscribed { conn, .. }
            | Self::Unsubscribed { conn, .. }
            | Self::Published { conn, .. } => Some(*conn),
            Self::RetainedLimit { conn, .. } => *conn,
        }
    }
}

/// Which events the shard records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventSettings {
    /// Logins, refusals and disconnects.
    pub connections: bool,
    /// `log_subscriptions`.
    pub subscriptions: bool,
    /// `log_publishes`.
    pub publishes: bool,
}

impl EventSettings {
    /// Connection events, and the rest as the shard's limits say.
    pub const fn connections() -> Self {
        Self {
            connections: true,
            subscriptions: false,
            publishes: false,
        }
    }
}
