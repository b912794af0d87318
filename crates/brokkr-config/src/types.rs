//! The typed values config directives take: keyword enums, networks, bridge topics, secrets.
//!
//! Each keyword enum knows its config spellings (`NAMES`, matched case-insensitively as FlashMQ
//! does) and renders back to the canonical one. Nothing here reads files or the network.

use std::fmt;
use std::net::IpAddr;

/// Declare a keyword enum with its config spellings.
macro_rules! keyword_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name { $($(#[$vm])* $variant,)+ }

        impl $name {
            /// The config spellings, canonical form.
            pub const NAMES: &'static [&'static str] = &[$($text,)+];

            /// Parse a config spelling (case-insensitive).
            pub fn from_name(s: &str) -> Option<Self> {
                $(if s.eq_ignore_ascii_case($text) { return Some($name::$variant); })+
                None
            }

            /// The canonical config spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

keyword_enum!(
    /// `log_level`. FlashMQ maps `error` onto its warning level; we keep them apart.
    LogLevel {
        Debug = "debug",
        Info = "info",
        Notice = "notice",
        Warning = "warning",
        Error = "error",
        None = "none",
    }
);

keyword_enum!(
    /// `retained_messages_mode`.
    RetainedMessagesMode {
        Enabled = "enabled",
        EnabledWithoutPersistence = "enabled_without_persistence",
        EnabledWithoutRetaining = "enabled_without_retaining",
        Downgrade = "downgrade",
        Drop = "drop",
        DisconnectWithError = "disconnect_with_error",
    }
);

keyword_enum!(
    /// `shared_subscription_targeting`.
    SharedSubscriptionTargeting {
        RoundRobin = "round_robin",
        SenderHash = "sender_hash",
        First = "first",
    }
);

keyword_enum!(
    /// `wildcard_subscription_deny_mode`.
    WildcardSubscriptionDenyMode {
        DenyAll = "deny_all",
        DenyRetainedOnly = "deny_retained_only",
    }
);

keyword_enum!(
    /// `overload_mode`.
    OverloadMode {
        Log = "log",
        CloseNewClients = "close_new_clients",
    }
);

keyword_enum!(
    /// `mqtt3_qos_exceed_action`.
    QosExceedAction {
        Drop = "drop",
        Disconnect = "disconnect",
    }
);

keyword_enum!(
    /// `retained_messages_node_creation_limit_enforcement_mode`.
    EnforcementMode {
        Log = "log",
        Reject = "reject",
    }
);

keyword_enum!(
    /// A listener's `protocol`.
    ListenerProtocol {
        Mqtt = "mqtt",
        Websockets = "websockets",
        Acme = "acme",
    }
);

keyword_enum!(
    /// `inet_protocol` of a listener (all four) or a bridge (not `unix`).
    InetProtocol {
        Ip4Ip6 = "ip4_ip6",
        Ip4 = "ip4",
        Ip6 = "ip6",
        Unix = "unix",
    }
);

keyword_enum!(
    /// `minimum_tls_version`.
    TlsVersion {
        Tls1_1 = "tlsv1.1",
        Tls1_2 = "tlsv1.2",
        Tls1_3 = "tlsv1.3",
    }
);

keyword_enum!(
    /// A listener's `haproxy` mode.
    HaproxyMode {
        Off = "off",
        On = "on",
        ClientVerification = "client_verification",
        ClientVerificationWithAuthn = "client_verification_with_authn",
    }
);

keyword_enum!(
    /// A bridge's `tls` mode.
    BridgeTls {
        Off = "off",
        On = "on",
        Unverified = "unverified",
    }
);

keyword_enum!(
    /// A bridge's `protocol_version`.
    ProtocolVersion {
        Mqtt31 = "mqtt3.1",
        Mqtt311 = "mqtt3.1.1",
        Mqtt5 = "mqtt5",
    }
);

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `::1/128`; a bare address is
/// a full-length prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network address as written.
    pub addr: IpAddr,
    /// Prefix length in bits: at most 32 for IPv4, 128 for IPv6.
    pub prefix_bits: u8,
}

impl Cidr {
    /// Parse `addr` or `addr/bits`.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_bits = match bits {
            None => max,
            Some(b) if !b.is_empty() && b.len() <= 3 && b.bytes().all(|c| c.is_ascii_digit()) => {
                b.parse().ok().filter(|&n| n <= max)?
            }
            Some(_) => return None,
        };
        Some(Cidr { addr, prefix_bits })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_bits)
    }
}

/// A bridge `publish` or `subscribe` line: a topic filter and the QoS (0 when not given).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BridgeTopic {
    /// The topic filter (wildcards allowed).
    pub filter: String,
    /// QoS 0, 1 or 2.
    pub qos: u8,
}

/// `persistence_data_to_save`: which kinds of state go to `storage_dir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PersistenceData {
    /// Sessions and their subscriptions.
    pub sessions_and_subscriptions: bool,
    /// Retained messages.
    pub retained_messages: bool,
    /// Bridge client ids (for `use_saved_clientid`).
    pub bridge_info: bool,
}

impl Default for PersistenceData {
    fn default() -> Self {
        PersistenceData {
            sessions_and_subscriptions: true,
            retained_messages: true,
            bridge_info: true,
        }
    }
}

impl PersistenceData {
    /// The words of `persistence_data_to_save`, each negatable with `!`.
    pub const WORDS: &'static [&'static str] = &[
        "all",
        "sessions_and_subscriptions",
        "retained_messages",
        "bridge_info",
    ];

    /// Apply each word in order (`all`, a kind, or `!` and either), starting from nothing, or
    /// from everything when the first word is a negation (`!retained_messages` alone saves all
    /// but retained messages).
    pub fn from_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let mut words = words.into_iter().peekable();
        let start = words.peek().is_some_and(|w| w.starts_with('!'));
        let mut d = PersistenceData {
            sessions_and_subscriptions: start,
            retained_messages: start,
            bridge_info: start,
        };
        for w in words {
            let (on, word) = match w.strip_prefix('!') {
                Some(rest) => (false, rest),
                None => (true, w),
            };
            match word.to_ascii_lowercase().as_str() {
                "all" => {
                    d = PersistenceData {
                        sessions_and_subscriptions: on,
                        retained_messages: on,
                        bridge_info: on,
                    }
                }
                "sessions_and_subscriptions" => d.sessions_and_subscriptions = on,
                "retained_messages" => d.retained_messages = on,
                "bridge_info" => d.bridge_info = on,
                _ => return None,
            }
        }
        Some(d)
    }

    /// Words that rebuild this value through [`PersistenceData::from_words`].
    pub fn to_words(self) -> Vec<&'static str> {
        let mut w = vec!["all"];
        let kinds = [
            (
                self.sessions_and_subscriptions,
                "!sessions_and_subscriptions",
            ),
            (self.retained_messages, "!retained_messages"),
            (self.bridge_info, "!bridge_info"),
        ];
        w.extend(kinds.iter().filter(|(on, _)| !on).map(|(_, neg)| *neg));
        w
    }
}

/// A secret (a bridge's `remote_password`): `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A bridge's `connection_count`: a number, or one per CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionCount {
    /// One connection per CPU.
    Auto,
    /// This many connections (at least 1).
    Fixed(u16),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_enums_are_case_insensitive_and_round_trip() {
        assert_eq!(LogLevel::from_name("WARNING"), Some(LogLevel::Warning));
        for name in RetainedMessagesMode::NAMES {
            let mode = RetainedMessagesMode::from_name(name).unwrap();
            assert_eq!(mode.as_str(), *name);
        }
        assert_eq!(OverloadMode::from_name("maybe"), None);
    }

    #[test]
    fn cidr_parsing() {
        assert_eq!(Cidr::parse("10.0.0.0/8").unwrap().prefix_bits, 8);
        assert_eq!(Cidr::parse("::1").unwrap().prefix_bits, 128);
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("10.0.0.0/"), None);
        assert_eq!(Cidr::parse("10.0.0.0/+8"), None);
        assert_eq!(Cidr::parse("example.com"), None);
    }

    #[test]
    fn persistence_words() {
        let d = PersistenceData::from_words(["all", "!retained_messages"]).unwrap();
        assert!(d.sessions_and_subscriptions && !d.retained_messages && d.bridge_info);
        assert_eq!(PersistenceData::from_words(d.to_words()), Some(d));
        assert_eq!(PersistenceData::from_words(["everything"]), None);
        let only = PersistenceData::from_words(["retained_messages"]).unwrap();
        assert!(!only.sessions_and_subscriptions && only.retained_messages);
        let all_but = PersistenceData::from_words(["!bridge_info"]).unwrap();
        assert!(all_but.sessions_and_subscriptions && !all_but.bridge_info);
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        assert_eq!(format!("{:?}", Secret("hunter2".into())), "Secret(***)");
    }
}
