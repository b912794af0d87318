//! The typed result of parsing: [`Config`] with its listeners and bridges, every value typed and
//! every default FlashMQ's.
//!
//! Field names are FlashMQ's directive names, with the unit appended where the directive's name
//! does not carry one (`save_state_interval_secs`). `Option` means "not set" where FlashMQ has
//! no value (paths) or inherits a global (per-listener overrides). Besides the settings, a
//! `Config` remembers which directives were used and where ([`Config::directives`]), so the
//! binary can refuse directives brokkr does not support yet, naming the line.

use crate::types::*;
use brokkr_core::limits::RetainedMode;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Where a directive or block was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedDirective {
    /// The key as written (`plugin_opt_x`), or the block name (`listen`, `bridge`).
    pub key: String,
    /// The option table's name for it (`plugin_opt_*` for plugin options; the block name).
    pub option: &'static str,
    /// True for a block start, false for a directive.
    pub is_block: bool,
    /// The scope the directive was used in (`Global` for block starts).
    pub scope: crate::options::Scope,
    /// The first value, as written (empty for a block); some support statuses depend on it.
    pub first_value: String,
    /// File, line and column of the key.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// A whole broker configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Config {
    pub plugin: Option<String>,
    pub plugin_opts: BTreeMap<String, String>,
    pub plugin_serialize_init: bool,
    pub plugin_serialize_auth_checks: bool,
    pub plugin_timer_period_secs: u32,
    pub log_file: Option<String>,
    pub log_level: LogLevel,
    pub log_debug: bool,
    pub quiet: bool,
    pub log_subscriptions: bool,
    pub log_publishes: bool,
    pub allow_unsafe_clientid_chars: bool,
    pub allow_unsafe_username_chars: bool,
    pub max_string_length: u32,
    pub max_packet_size: u32,
    pub client_max_write_buffer_size: u32,
    pub client_initial_buffer_size: u32,
    pub mosquitto_password_file: Option<String>,
    pub mosquitto_acl_file: Option<String>,
    pub allow_anonymous: bool,
    pub zero_byte_username_is_anonymous: bool,
    pub rlimit_nofile: u32,
    pub expire_sessions_after_seconds: u32,
    pub storage_dir: Option<String>,
    pub save_state_interval_secs: u32,
    pub persistence_data_to_save: PersistenceData,
    /// `persistence_journal` (a brokkr extension): journal acknowledged changes.
    pub persistence_journal: bool,
    pub max_qos_msg_pending_per_client: u16,
    pub max_qos_bytes_pending_per_client: u32,
    pub max_qos: u8,
    pub mqtt3_qos_exceed_action: QosExceedAction,
    pub max_incoming_topic_alias_value: u16,
    pub max_outgoing_topic_alias_value: u16,
    /// `None`: one worker per CPU.
    pub thread_count: Option<u16>,
    pub wills_enabled: bool,
    pub retained_messages_mode: RetainedMessagesMode,
    pub expire_retained_messages_after_seconds: u32,
    /// `None`: unlimited.
    pub retained_messages_node_limit: Option<u32>,
    /// `None`: unlimited.
    pub retained_messages_node_creation_limit: Option<u32>,
    pub retained_messages_node_creation_limit_enforcement_depth: u16,
    pub retained_messages_node_creation_limit_enforcement_mode: EnforcementMode,
    /// `None`: unlimited.
    pub retained_message_max_payload_size: Option<u32>,
    pub set_retained_message_defer_timeout_ms: u32,
    pub set_retained_message_defer_timeout_spread_ms: u32,
    pub retained_message_node_lifetime_secs: u32,
    pub subscription_node_lifetime_secs: u32,
    pub websocket_set_real_ip_from: Vec<Cidr>,
    pub shared_subscription_targeting: SharedSubscriptionTargeting,
    pub minimum_wildcard_subscription_depth: u16,
    pub wildcard_subscription_deny_mode: WildcardSubscriptionDenyMode,
    pub max_topic_split_depth: u16,
    pub overload_mode: OverloadMode,
    pub max_event_loop_drift_ms: u32,
    pub subscription_identifiers_enabled: bool,
    /// The listeners; one default listener when the file has no `listen` block.
    pub listeners: Vec<ListenerConfig>,
    /// The bridges.
    pub bridges: Vec<BridgeConfig>,
    /// Every directive and block used, in file order (not part of the settings: two configs
    /// written differently can be equal in everything else).
    pub directives: Vec<UsedDirective>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            plugin: None,
            plugin_opts: BTreeMap::new(),
            plugin_serialize_init: false,
            plugin_serialize_auth_checks: false,
            plugin_timer_period_secs: 60,
            log_file: None,
            log_level: LogLevel::Info,
            log_debug: false,
            quiet: false,
            log_subscriptions: false,
            log_publishes: false,
            allow_unsafe_clientid_chars: false,
            allow_unsafe_username_chars: false,
            max_string_length: 4096,
            max_packet_size: 268_435_460,
            client_max_write_buffer_size: 1_048_576,
            client_initial_buffer_size: 1024,
            mosquitto_password_file: None,
            mosquitto_acl_file: None,
            allow_anonymous: false,
            zero_byte_username_is_anonymous: false,
            rlimit_nofile: 1_000_000,
            expire_sessions_after_seconds: 1_209_600,
            storage_dir: None,
            save_state_interval_secs: 3623,
            persistence_data_to_save: PersistenceData::default(),
            persistence_journal: false,
            max_qos_msg_pending_per_client: 512,
            max_qos_bytes_pending_per_client: 65_536,
            max_qos: 2,
            mqtt3_qos_exceed_action: QosExceedAction::Disconnect,
            max_incoming_topic_alias_value: 65_535,
            max_outgoing_topic_alias_value: 65_535,
            thread_count: None,
            wills_enabled: true,
            retained_messages_mode: RetainedMessagesMode::Enabled,
            expire_retained_messages_after_seconds: u32::MAX,
            retained_messages_node_limit: None,
            retained_messages_node_creation_limit: None,
            retained_messages_node_creation_limit_enforcement_depth: 65_535,
            retained_messages_node_creation_limit_enforcement_mode: EnforcementMode::Reject,
            retained_message_max_payload_size: None,
            set_retained_message_defer_timeout_ms: 0,
            set_retained_message_defer_timeout_spread_ms: 1000,
            retained_message_node_lifetime_secs: 0,
            subscription_node_lifetime_secs: 3600,
            websocket_set_real_ip_from: Vec::new(),
            shared_subscription_targeting: SharedSubscriptionTargeting::RoundRobin,
            minimum_wildcard_subscription_depth: 0,
            wildcard_subscription_deny_mode: WildcardSubscriptionDenyMode::DenyAll,
            max_topic_split_depth: 128,
            overload_mode: OverloadMode::Log,
            max_event_loop_drift_ms: 2000,
            subscription_identifiers_enabled: true,
            listeners: Vec::new(),
            bridges: Vec::new(),
            directives: Vec::new(),
        }
    }
}

impl Config {
    /// FlashMQ's configuration without a config file: every default and one listener (MQTT,
    /// IPv4 and IPv6, port 1883).
    pub fn flashmq_defaults() -> Self {
        Config {
            listeners: vec![ListenerConfig::default()],
            ..Config::default()
        }
    }

    /// The same settings without the record of where they came from (for comparing configs).
    pub fn without_provenance(&self) -> Config {
        Config {
            directives: Vec::new(),
            ..self.clone()
        }
    }

    /// The broker limits this config sets, on top of `base` for the bounds the config file has
    /// no directive for.
    pub fn to_limits(&self, base: &brokkr_core::limits::Limits) -> brokkr_core::limits::Limits {
        let size = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        brokkr_core::limits::Limits {
            packet_bytes_max: size(self.max_packet_size),
            string_bytes_max: size(self.max_string_length),
            topic_levels_max: usize::from(self.max_topic_split_depth),
            wildcard_depth_min: usize::from(self.minimum_wildcard_subscription_depth),
            qos_pending_messages_max: self.max_qos_msg_pending_per_client,
            qos_pending_bytes_max: size(self.max_qos_bytes_pending_per_client),
            write_buffer_bytes_max: size(self.client_max_write_buffer_size),
            incoming_topic_aliases_max: self.max_incoming_topic_alias_value,
            outgoing_topic_aliases_max: self.max_outgoing_topic_alias_value,
            session_expiry_secs_max: self.expire_sessions_after_seconds,
            retained_payload_bytes_max: self
                .retained_message_max_payload_size
                .map_or(usize::MAX, size),
            max_qos: qos(self.max_qos),
            mqtt3_qos_exceed_disconnects: self.mqtt3_qos_exceed_action
                == crate::types::QosExceedAction::Disconnect,
            wills_enabled: self.wills_enabled,
            log_subscriptions: self.log_subscriptions,
            log_publishes: self.log_publishes,
            share_targeting: match self.shared_subscription_targeting {
                crate::types::SharedSubscriptionTargeting::SenderHash => {
                    brokkr_core::limits::ShareTargeting::SenderHash
                }
                crate::types::SharedSubscriptionTargeting::First => {
                    brokkr_core::limits::ShareTargeting::First
                }
                _ => brokkr_core::limits::ShareTargeting::RoundRobin,
            },
            subscription_identifiers_enabled: self.subscription_identifiers_enabled,
            wildcard_deny_retained_only: self.wildcard_subscription_deny_mode
                == crate::types::WildcardSubscriptionDenyMode::DenyRetainedOnly,
            // FlashMQ's default (4294967295, or about 2^31 in its code) means "never".
            retained_expiry_secs: Some(self.expire_retained_messages_after_seconds)
                .filter(|&s| s < 2_147_483_647),
            allow_unsafe_clientid_chars: self.allow_unsafe_clientid_chars,
            allow_unsafe_username_chars: self.allow_unsafe_username_chars,
            retained_mode: match self.retained_messages_mode {
                RetainedMessagesMode::EnabledWithoutRetaining => RetainedMode::WithoutRetaining,
                RetainedMessagesMode::Downgrade => RetainedMode::Downgrade,
                RetainedMessagesMode::Drop => RetainedMode::Drop,
                RetainedMessagesMode::DisconnectWithError => RetainedMode::DisconnectWithError,
                _ => RetainedMode::Enabled, // enabled, enabled_without_persistence
            },
            retained_walk_nodes_max: self.retained_messages_node_limit.map_or(usize::MAX, size),
            retained_creation_limit: self.retained_creation_limit(),
            idle_buffer_bytes_max: size(self.client_initial_buffer_size),
            // `listeners` stays `base`'s: it goes by the server's listener index, which only
            // the binary knows (a block may bind two addresses or be skipped); it builds it
            // from `ListenerConfig::overrides`.
            ..base.clone()
        }
    }

    /// True when retained messages are saved to and loaded from `storage_dir`: the mode is
    /// `enabled` and `persistence_data_to_save` includes them.
    pub fn persists_retained(&self) -> bool {
        self.retained_messages_mode == RetainedMessagesMode::Enabled
            && self.persistence_data_to_save.retained_messages
    }

    /// `retained_messages_node_creation_limit` with its depth and mode; `None` when either
    /// the limit or the depth (65535) turns it off.
    fn retained_creation_limit(&self) -> Option<brokkr_core::limits::RetainedCreationLimit> {
        let nodes_max = self.retained_messages_node_creation_limit?;
        let depth_levels = self.retained_messages_node_creation_limit_enforcement_depth;
        (depth_levels < u16::MAX).then_some(brokkr_core::limits::RetainedCreationLimit {
            depth_levels,
            nodes_max,
            reject: self.retained_messages_node_creation_limit_enforcement_mode
                == crate::types::EnforcementMode::Reject,
        })
    }
}

/// A config QoS number (0 to 2, checked by the table) as a QoS.
fn qos(n: u8) -> brokkr_codec::QoS {
    match n {
        0 => brokkr_codec::QoS::AtMostOnce,
        1 => brokkr_codec::QoS::AtLeastOnce,
        _ => brokkr_codec::QoS::ExactlyOnce,
    }
}

/// One `listen { }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ListenerConfig {
    pub protocol: ListenerProtocol,
    /// `None`: the protocol's default port (see [`ListenerConfig::port`]).
    pub port: Option<u16>,
    pub inet_protocol: InetProtocol,
    pub inet4_bind_address: Ipv4Addr,
    pub inet6_bind_address: Ipv6Addr,
    pub unix_socket_path: Option<String>,
    pub unix_socket_user: Option<String>,
    pub unix_socket_group: Option<String>,
    /// Permission bits, given in octal in the file.
    pub unix_socket_mode: Option<u32>,
    pub fullchain: Option<String>,
    pub privkey: Option<String>,
    pub minimum_tls_version: TlsVersion,
    pub client_verification_ca_file: Option<String>,
    pub client_verification_ca_dir: Option<String>,
    pub client_verification_still_do_authn: bool,
    pub acme_redirect_url: Option<String>,
    pub drop_on_absent_certificate: bool,
    pub only_allow_from: Vec<Cidr>,
    pub deny_from: Vec<Cidr>,
    /// `None`: the global `allow_anonymous`.
    pub allow_anonymous: Option<bool>,
    /// `None`: the global `overload_mode`.
    pub overload_mode: Option<OverloadMode>,
    pub haproxy: HaproxyMode,
    pub tcp_nodelay: bool,
    /// `None`: the global `client_max_write_buffer_size`.
    pub max_buffer_size: Option<u32>,
    /// `None`: the global `max_qos`.
    pub max_qos: Option<u8>,
    /// `None`: the global `mqtt3_qos_exceed_action`.
    pub mqtt3_qos_exceed_action: Option<QosExceedAction>,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            protocol: ListenerProtocol::Mqtt,
            port: None,
            inet_protocol: InetProtocol::Ip4Ip6,
            inet4_bind_address: Ipv4Addr::UNSPECIFIED,
            inet6_bind_address: Ipv6Addr::UNSPECIFIED,
            unix_socket_path: None,
            unix_socket_user: None,
            unix_socket_group: None,
            unix_socket_mode: None,
            fullchain: None,
            privkey: None,
            minimum_tls_version: TlsVersion::Tls1_1,
            client_verification_ca_file: None,
            client_verification_ca_dir: None,
            client_verification_still_do_authn: false,
            acme_redirect_url: None,
            drop_on_absent_certificate: false,
            only_allow_from: Vec::new(),
            deny_from: Vec::new(),
            allow_anonymous: None,
            overload_mode: None,
            haproxy: HaproxyMode::Off,
            tcp_nodelay: false,
            max_buffer_size: None,
            max_qos: None,
            mqtt3_qos_exceed_action: None,
        }
    }
}

impl ListenerConfig {
    /// The bounds this block overrides (`max_qos`, `max_buffer_size`,
    /// `mqtt3_qos_exceed_action`), for `Limits::listeners` at each server listener it makes.
    pub fn overrides(&self) -> brokkr_core::limits::ListenerOverrides {
        brokkr_core::limits::ListenerOverrides {
            max_qos: self.max_qos.map(qos),
            write_buffer_bytes_max: self
                .max_buffer_size
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            mqtt3_qos_exceed_disconnects: self
                .mqtt3_qos_exceed_action
                .map(|a| a == QosExceedAction::Disconnect),
        }
    }

    /// True when the listener has a certificate and key (TLS or secure websockets).
    pub fn is_tls(&self) -> bool {
        self.fullchain.is_some() && self.privkey.is_some()
    }

    /// The port: as configured, else 1883 (MQTT), 8883 (MQTT over TLS), 8080 (websockets),
    /// 4443 (websockets over TLS) or 80 (ACME).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match (self.protocol, self.is_tls()) {
            (ListenerProtocol::Mqtt, false) => 1883,
            (ListenerProtocol::Mqtt, true) => 8883,
            (ListenerProtocol::Websockets, false) => 8080,
            (ListenerProtocol::Websockets, true) => 4443,
            (ListenerProtocol::Acme, _) => 80,
        })
    }
}

/// One `bridge { }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct BridgeConfig {
    /// Required: a DNS name or an IP address.
    pub address: String,
    /// `None`: 1883, or 8883 with TLS (see [`BridgeConfig::port`]).
    pub port: Option<u16>,
    pub inet_protocol: InetProtocol,
    pub tls: BridgeTls,
    pub minimum_tls_version: TlsVersion,
    pub fullchain: Option<String>,
    pub privkey: Option<String>,
    pub ca_file: Option<String>,
    pub ca_dir: Option<String>,
    pub protocol_version: ProtocolVersion,
    pub bridge_protocol_bit: bool,
    pub keepalive_secs: u16,
    pub clientid_prefix: String,
    pub publish: Vec<BridgeTopic>,
    pub subscribe: Vec<BridgeTopic>,
    pub local_username: Option<String>,
    pub remote_username: Option<String>,
    pub remote_password: Option<Secret>,
    pub remote_clean_start: bool,
    pub local_clean_start: bool,
    pub remote_session_expiry_interval_secs: u32,
    pub local_session_expiry_interval_secs: u32,
    pub remote_retain_available: bool,
    pub use_saved_clientid: bool,
    pub max_outgoing_topic_aliases: u16,
    pub max_incoming_topic_aliases: u16,
    pub tcp_nodelay: bool,
    pub local_prefix: Option<String>,
    pub remote_prefix: Option<String>,
    pub connection_count: ConnectionCount,
    /// `None`: the global `client_max_write_buffer_size`.
    pub max_buffer_size: Option<u32>,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            address: String::new(),
            port: None,
            inet_protocol: InetProtocol::Ip4Ip6,
            tls: BridgeTls::Off,
            minimum_tls_version: TlsVersion::Tls1_1,
            fullchain: None,
            privkey: None,
            ca_file: None,
            ca_dir: None,
            protocol_version: ProtocolVersion::Mqtt311,
            bridge_protocol_bit: true,
            keepalive_secs: 60,
            clientid_prefix: "fmqbridge".to_owned(),
            publish: Vec::new(),
            subscribe: Vec::new(),
            local_username: None,
            remote_username: None,
            remote_password: None,
            remote_clean_start: true,
            local_clean_start: true,
            remote_session_expiry_interval_secs: 0,
            local_session_expiry_interval_secs: 0,
            remote_retain_available: true,
            use_saved_clientid: false,
            max_outgoing_topic_aliases: 0,
            max_incoming_topic_aliases: 0,
            tcp_nodelay: false,
            local_prefix: None,
            remote_prefix: None,
            connection_count: ConnectionCount::Fixed(1),
            max_buffer_size: None,
        }
    }
}

impl BridgeConfig {
    /// The remote port: as configured, else 8883 with TLS and 1883 without.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.tls == BridgeTls::Off {
            1883
        } else {
            8883
        })
    }
}
