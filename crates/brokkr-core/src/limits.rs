//! Every bound the broker enforces, in one place, with FlashMQ's defaults.
//!
//! The config crate builds a `Limits` from the config file (same directive names, noted on each
//! field); the core reads it and never invents a bound of its own. Checks happen before
//! allocating: a limit exceeded gets its reason code and a clean close, never a panic.

/// How one member of a shared subscription group is picked for each message
/// (`shared_subscription_targeting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShareTargeting {
    /// In turn (FlashMQ's default).
    #[default]
    RoundRobin,
    /// By a hash of the publisher's client id: one publisher's messages go to one member.
    SenderHash,
    /// Always the first member that subscribed (a hot standby pattern).
    First,
}

/// What a PUBLISH (or will) with the RETAIN flag does (`retained_messages_mode`; its
/// `enabled_without_persistence` is `Enabled` here: the server does not save the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetainedMode {
    /// Stored and delivered to new subscribers (FlashMQ's default).
    #[default]
    Enabled,
    /// Relayed with its RETAIN flag (seen by Retain As Published subscriptions), never stored.
    WithoutRetaining,
    /// The RETAIN flag is cleared: an ordinary message.
    Downgrade,
    /// Acknowledged and discarded: not delivered, not stored.
    Drop,
    /// The sender is disconnected (MQTT 5: 0x9A Retain not supported); a CONNECT with a
    /// retained will is refused.
    DisconnectWithError,
}

/// `retained_messages_node_creation_limit` with its enforcement depth and mode: a cap on the
/// retained-tree nodes under each node at one depth (per device, say, at depth 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetainedCreationLimit {
    /// `..._enforcement_depth`: the depth of the nodes whose subtrees are capped (0: the root,
    /// so the whole tree but `$` topics).
    pub depth_levels: u16,
    /// `retained_messages_node_creation_limit`: most nodes under each such node.
    pub nodes_max: u32,
    /// `..._enforcement_mode`: true (`reject`, the default) does not retain a message whose
    /// topic would need nodes beyond the cap (it is still delivered); false (`log`) retains it
    /// and only reports it.
    pub reject: bool,
}

/// What one listener's `listen` block overrides (`None`: the global value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListenerOverrides {
    /// `max_qos`.
    pub max_qos: Option<brokkr_codec::QoS>,
    /// `max_buffer_size` (the listener's `client_max_write_buffer_size`).
    pub write_buffer_bytes_max: Option<usize>,
    /// `mqtt3_qos_exceed_action`.
    pub mqtt3_qos_exceed_disconnects: Option<bool>,
}

/// The bounds that depend on the listener a connection came in on, as
/// [`Limits::for_listener`] resolves them; each connection keeps a copy (8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// See [`Limits::write_buffer_bytes_max`] (the config's values fit in 32 bits).
    pub write_buffer_bytes_max: u32,
    /// See [`Limits::max_qos`].
    pub max_qos: brokkr_codec::QoS,
    /// See [`Limits::mqtt3_qos_exceed_disconnects`].
    pub mqtt3_qos_exceed_disconnects: bool,
}

impl ListenerLimits {
    /// The write buffer cap in bytes.
    pub fn write_buffer_bytes(&self) -> usize {
        usize::try_from(self.write_buffer_bytes_max).unwrap_or(usize::MAX)
    }
}

/// The broker's bounds. Field docs name the FlashMQ directive where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `max_packet_size`: largest packet accepted from an authenticated client (whole packet).
    pub packet_bytes_max: usize,
    /// Largest packet accepted before CONNECT is accepted (FlashMQ: just under 1 MB).
    pub packet_bytes_max_before_auth: usize,
    /// `max_string_length`: longest topic, client id, user name or property string.
    pub string_bytes_max: usize,
    /// `max_topic_split_depth`: most levels in a topic name or filter.
    pub topic_levels_max: usize,
    /// `minimum_wildcard_subscription_depth`: wildcards refused above this level (0: anywhere).
    pub wildcard_depth_min: usize,
    /// Subscriptions one session may hold.
    pub subscriptions_per_session_max: usize,
    /// `max_qos_msg_pending_per_client`: queued plus in-flight QoS 1/2 messages per session; also
    /// advertised as Receive Maximum.
    pub qos_pending_messages_max: u16,
    /// `max_qos_bytes_pending_per_client`: bytes of queued QoS 1/2 messages per session (one
    /// message is always allowed).
    pub qos_pending_bytes_max: usize,
    /// `client_max_write_buffer_size`: a connection's write buffer cap.
    pub write_buffer_bytes_max: usize,
    /// `max_incoming_topic_alias_value`: Topic Alias Maximum advertised to clients.
    pub incoming_topic_aliases_max: u16,
    /// `max_outgoing_topic_alias_value`: aliases the broker assigns per client.
    pub outgoing_topic_aliases_max: u16,
    /// `expire_sessions_after_seconds`: upper bound on a session's expiry (0: never expire).
    pub session_expiry_secs_max: u32,
    /// Time a new connection has to complete CONNECT, in milliseconds.
    pub connect_timeout_ms: u64,
    /// `retained_message_max_payload_size`: largest payload kept as retained.
    pub retained_payload_bytes_max: usize,
    /// Longest Keep Alive the broker accepts, in seconds; a CONNECT asking for more (or for
    /// none, 0) gets this value, sent to MQTT 5 clients as Server Keep Alive (MQTT-3.2.2-21).
    /// `u16::MAX` (the default, as FlashMQ) accepts every client's value.
    pub keep_alive_secs_max: u16,
    /// `max_qos`: the highest QoS granted to subscriptions and accepted in PUBLISH and wills
    /// (advertised to MQTT 5 clients as Maximum QoS when below 2).
    pub max_qos: brokkr_codec::QoS,
    /// `mqtt3_qos_exceed_action`: true (`disconnect`, the default) closes a 3.x client that
    /// publishes above `max_qos`; false (`drop`) acknowledges and discards the message.
    pub mqtt3_qos_exceed_disconnects: bool,
    /// `wills_enabled`.
    pub wills_enabled: bool,
    /// `log_subscriptions`: record subscribe and unsubscribe events (once events are enabled).
    pub log_subscriptions: bool,
    /// `log_publishes`: record an event per PUBLISH received (once events are enabled).
    pub log_publishes: bool,
    /// `subscription_identifiers_enabled`: when false, a SUBSCRIBE with one is a protocol error
    /// (DISCONNECT 0xA1) and CONNACK says they are not available.
    pub subscription_identifiers_enabled: bool,
    /// `wildcard_subscription_deny_mode deny_retained_only`: a wildcard above
    /// `wildcard_depth_min` is allowed but gets no retained messages (instead of being refused).
    pub wildcard_deny_retained_only: bool,
    /// `expire_retained_messages_after_seconds`: retained messages older than this are not
    /// delivered (None: kept until replaced or their Message Expiry passes).
    pub retained_expiry_secs: Option<u32>,
    /// `allow_unsafe_clientid_chars`: allow `+` and `#` in client ids (they could act as
    /// wildcards in ACL patterns elsewhere).
    pub allow_unsafe_clientid_chars: bool,
    /// `allow_unsafe_username_chars`: the same for user names.
    pub allow_unsafe_username_chars: bool,
    /// `shared_subscription_targeting`.
    pub share_targeting: ShareTargeting,
    /// `retained_messages_mode`: the broker's own `$SYS` messages are retained whatever it says.
    /// MQTT 5 clients hear Retain Available 0 in CONNACK unless it is `Enabled`.
    pub retained_mode: RetainedMode,
    /// `retained_messages_node_limit`: most retained-tree nodes one subscription's delivery of
    /// retained messages visits (`usize::MAX`: no limit); the messages beyond are not sent.
    pub retained_walk_nodes_max: usize,
    /// `retained_messages_node_creation_limit` and its enforcement depth and mode (`None`: no
    /// cap, FlashMQ's default).
    pub retained_creation_limit: Option<RetainedCreationLimit>,
    /// `client_initial_buffer_size`: capacity an empty read or write buffer of a connection
    /// may keep between bursts; a larger one is released (buffers start empty and grow on
    /// demand, so an idle connection holds at most this much per direction).
    pub idle_buffer_bytes_max: usize,
    /// Per-listener overrides, by the server's listener index ([`Limits::for_listener`]); a
    /// listener past the end uses the global values.
    pub listeners: Vec<ListenerOverrides>,
    /// Time a client may stay at or over its write buffer cap (QoS 0 being dropped for it)
    /// before it is disconnected as a reader that stopped reading.
    pub stuck_reader_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            packet_bytes_max: 268_435_455 + 5,
            packet_bytes_max_before_auth: 1_048_576 - 1,
            string_bytes_max: 4096,
            topic_levels_max: 128,
            wildcard_depth_min: 0,
            subscriptions_per_session_max: 10_000,
            qos_pending_messages_max: 512,
            qos_pending_bytes_max: 65_536,
            write_buffer_bytes_max: 1_048_576,
            incoming_topic_aliases_max: 65_535,
            outgoing_topic_aliases_max: 65_535,
            session_expiry_secs_max: 1_209_600,
            connect_timeout_ms: 10_000,
            retained_payload_bytes_max: usize::MAX,
            stuck_reader_ms: 60_000,
            keep_alive_secs_max: u16::MAX,
            share_targeting: ShareTargeting::RoundRobin,
            max_qos: brokkr_codec::QoS::ExactlyOnce,
            mqtt3_qos_exceed_disconnects: true,
            wills_enabled: true,
            log_subscriptions: false,
            log_publishes: false,
            subscription_identifiers_enabled: true,
            wildcard_deny_retained_only: false,
            retained_expiry_secs: None,
            allow_unsafe_clientid_chars: false,
            allow_unsafe_username_chars: false,
            retained_mode: RetainedMode::Enabled,
            retained_walk_nodes_max: usize::MAX,
            retained_creation_limit: None,
            idle_buffer_bytes_max: 1024,
            listeners: Vec::new(),
        }
    }
}

impl Limits {
    /// The bounds of a connection accepted on listener `listener`: its `listen` block's
    /// overrides over the global values.
    pub fn for_listener(&self, listener: u16) -> ListenerLimits {
        let o = self
            .listeners
            .get(usize::from(listener))
            .copied()
            .unwrap_or_default();
        let write = o
            .write_buffer_bytes_max
            .unwrap_or(self.write_buffer_bytes_max);
        ListenerLimits {
            max_qos: o.max_qos.unwrap_or(self.max_qos),
            write_buffer_bytes_max: u32::try_from(write).unwrap_or(u32::MAX),
            mqtt3_qos_exceed_disconnects: o
                .mqtt3_qos_exceed_disconnects
                .unwrap_or(self.mqtt3_qos_exceed_disconnects),
        }
    }

    /// The packet cap for a connection in its current phase.
    pub fn packet_cap(&self, authenticated: bool) -> usize {
        if authenticated {
            self.packet_bytes_max
        } else {
            self.packet_bytes_max_before_auth.min(self.packet_bytes_max)
        }
    }

    /// The Keep Alive granted for a requested one, and whether it differs (then MQTT 5 clients
    /// are told with Server Keep Alive).
    pub fn grant_keep_alive(&self, requested_secs: u16) -> (u16, bool) {
        let max = self.keep_alive_secs_max;
        if max == u16::MAX || (requested_secs != 0 && requested_secs <= max) {
            (requested_secs, false)
        } else {
            (max, true)
        }
    }

    /// The session expiry actually granted for a requested one (MQTT 5 Session Expiry Interval;
    /// `u32::MAX` means "never", which the clamp also bounds).
    pub fn clamp_session_expiry(&self, requested_secs: u32) -> u32 {
        if self.session_expiry_secs_max == 0 {
            requested_secs
        } else {
            requested_secs.min(self.session_expiry_secs_max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flashmq_defaults() {
        let l = Limits::default();
        assert_eq!(l.qos_pending_messages_max, 512);
        assert_eq!(l.qos_pending_bytes_max, 65_536);
        assert_eq!(l.write_buffer_bytes_max, 1_048_576);
        assert_eq!(l.topic_levels_max, 128);
        assert_eq!(l.string_bytes_max, 4096);
        assert!(l.packet_cap(false) < 1_048_576);
        assert_eq!(l.packet_cap(true), 268_435_460);
    }

    #[test]
    fn a_listener_overrides_only_what_its_block_sets() {
        use brokkr_codec::QoS;
        let l = Limits {
            max_qos: QoS::AtLeastOnce,
            listeners: vec![
                ListenerOverrides::default(),
                ListenerOverrides {
                    max_qos: Some(QoS::AtMostOnce),
                    write_buffer_bytes_max: Some(8192),
                    mqtt3_qos_exceed_disconnects: Some(false),
                },
            ],
            ..Limits::default()
        };
        let global = ListenerLimits {
            max_qos: QoS::AtLeastOnce,
            write_buffer_bytes_max: 1_048_576,
            mqtt3_qos_exceed_disconnects: true,
        };
        assert_eq!(l.for_listener(0), global);
        assert_eq!(
            l.for_listener(7),
            global,
            "an unknown listener gets the globals"
        );
        let own = l.for_listener(1);
        assert_eq!(own.max_qos, QoS::AtMostOnce);
        assert_eq!(own.write_buffer_bytes_max, 8192);
        assert!(!own.mqtt3_qos_exceed_disconnects);
    }

    #[test]
    fn keep_alive_is_clamped_only_when_configured() {
        assert_eq!(Limits::default().grant_keep_alive(0), (0, false));
        assert_eq!(Limits::default().grant_keep_alive(7200), (7200, false));
        let capped = Limits {
            keep_alive_secs_max: 600,
            ..Limits::default()
        };
        assert_eq!(capped.grant_keep_alive(60), (60, false));
        assert_eq!(capped.grant_keep_alive(601), (600, true));
        assert_eq!(
            capped.grant_keep_alive(0),
            (600, true),
            "0 (none) is over any cap"
        );
    }

    #[test]
    fn session_expiry_is_clamped_to_the_config() {
        let l = Limits::default();
        assert_eq!(l.clamp_session_expiry(u32::MAX), 1_209_600);
        assert_eq!(l.clamp_session_expiry(60), 60);
        let never = Limits {
            session_expiry_secs_max: 0,
            ..Limits::default()
        };
        assert_eq!(never.clamp_session_expiry(u32::MAX), u32::MAX);
    }
}
