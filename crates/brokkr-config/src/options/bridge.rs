//! Bridge directives, valid only inside `bridge { }`. brokkr has no bridges yet, so every one
//! is `NotYet`; they are still parsed and checked so a FlashMQ config's mistakes show up.

use super::DefaultValue::{Is, Note};
use super::{OptionDesc, Support, U16, U32, int, one, opt, topics};
use crate::types::{BridgeTls, InetProtocol, ProtocolVersion, Secret, TlsVersion};
use crate::value::{Unit, ValueKind::*};

const NY: Support = Support::NotYet { feature: "bridges" };

pub(super) static OPTIONS: &[OptionDesc] = &[
    opt! {
        name: "address", kind: Word, default: Note("none: required"),
        example: "mqtt.example.com", support: NY,
        doc: "Host name, IPv4 or IPv6 address of the remote broker. Required.",
        set: Bridge |b, v| b.address = v.text()?,
        get: |b| one(&b.address),
    },
    opt! {
        name: "port", kind: int(1, U16, Unit::Count), default: Note("1883; 8883 with TLS"),
        example: "1884", support: NY,
        doc: "TCP port of the remote broker.",
        set: Bridge |b, v| b.port = Some(v.num()?),
        get: |b| opt(&b.port),
    },
    opt! {
        name: "inet_protocol", kind: Keyword(&["ip4_ip6", "ip4", "ip6"]), default: Is("ip4_ip6"),
        example: "ip6", support: NY,
        doc: "Address families to use when resolving `address`: `ip4_ip6`, `ip4` or `ip6`.",
        set: Bridge |b, v| b.inet_protocol = v.keyword(InetProtocol::from_name)?,
        get: |b| one(b.inet_protocol),
    },
    opt! {
        name: "tls", kind: Keyword(BridgeTls::NAMES), default: Is("off"), example: "on",
        support: NY,
        doc: "`off`, `on` (verify the remote certificate), or `unverified` (encrypt without \
              verifying; for tests only).",
        set: Bridge |b, v| b.tls = v.keyword(BridgeTls::from_name)?,
        get: |b| one(b.tls),
    },
    opt! {
        name: "minimum_tls_version", kind: Keyword(TlsVersion::NAMES), default: Is("tlsv1.1"),
        example: "tlsv1.2", support: NY,
        doc: "Oldest TLS version the bridge accepts from the remote broker.",
        set: Bridge |b, v| b.minimum_tls_version = v.keyword(TlsVersion::from_name)?,
        get: |b| one(b.minimum_tls_version),
    },
    opt! {
        name: "fullchain", kind: Path, default: Note("none"), example: "/etc/brokkr/bridge.pem",
        support: NY,
        doc: "Client certificate chain the bridge presents to the remote broker.",
        set: Bridge |b, v| b.fullchain = Some(v.text()?),
        get: |b| opt(&b.fullchain),
    },
    opt! {
        name: "privkey", kind: Path, default: Note("none"), example: "/etc/brokkr/bridge.key",
        support: NY,
        doc: "Private key for the bridge's client certificate.",
        set: Bridge |b, v| b.privkey = Some(v.text()?),
        get: |b| opt(&b.privkey),
    },
    opt! {
        name: "ca_file", kind: Path, default: Note("the system trust store"),
        example: "/etc/brokkr/remote-ca.pem", support: NY,
        doc: "Trust anchors (PEM file) for verifying the remote broker.",
        set: Bridge |b, v| b.ca_file = Some(v.text()?),
        get: |b| opt(&b.ca_file),
    },
    opt! {
        name: "ca_dir", kind: Path, default: Note("the system trust store"),
        example: "/etc/ssl/certs", support: NY,
        doc: "Trust anchors (OpenSSL hashed directory) for verifying the remote broker.",
        set: Bridge |b, v| b.ca_dir = Some(v.text()?),
        get: |b| opt(&b.ca_dir),
    },
    opt! {
        name: "protocol_version", kind: Keyword(ProtocolVersion::NAMES),
        default: Is("mqtt3.1.1"), example: "mqtt5", support: NY,
        doc: "MQTT version spoken to the remote broker: `mqtt3.1`, `mqtt3.1.1` or `mqtt5`.",
        set: Bridge |b, v| b.protocol_version = v.keyword(ProtocolVersion::from_name)?,
        get: |b| one(b.protocol_version),
    },
    opt! {
        name: "bridge_protocol_bit", kind: Bool, default: Is("true"), example: "false",
        support: NY,
        doc: "Set the bridge bit in the MQTT 3 CONNECT protocol level, which lets brokers that \
              know it avoid echoing messages back (loop detection).",
        set: Bridge |b, v| b.bridge_protocol_bit = v.flag()?,
        get: |b| one(b.bridge_protocol_bit),
    },
    opt! {
        name: "keepalive", kind: int(10, U16, Unit::Seconds), default: Is("60"), example: "30",
        support: NY,
        doc: "Keepalive interval of the bridge connection, at least 10 seconds.",
        set: Bridge |b, v| b.keepalive_secs = v.num()?,
        get: |b| one(b.keepalive_secs),
    },
    opt! {
        name: "clientid_prefix", kind: Word, default: Is("fmqbridge"), example: "site1",
        support: NY,
        doc: "Start of the bridge's client id (random characters follow), at most 10 \
              characters. It also names the bridge, so it must be unique.",
        set: Bridge |b, v| {
            let prefix = v.text()?;
            let ok = prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if prefix.len() > 10 || !ok {
                return Err("at most 10 letters, digits, `_` or `-`".to_owned());
            }
            b.clientid_prefix = prefix
        },
        get: |b| one(&b.clientid_prefix),
    },
    opt! {
        name: "publish", kind: TopicQos, default: Note("none"), example: "sensors/# 1",
        support: NY,
        doc: "Forward local messages matching this filter to the remote broker, at the given \
              QoS (default 0); repeat for more filters.",
        set: Bridge |b, v| b.publish.push(v.topic()?),
        get: |b| topics(&b.publish),
    },
    opt! {
        name: "subscribe", kind: TopicQos, default: Note("none"), example: "commands/# 2",
        support: NY,
        doc: "Subscribe on the remote broker to this filter and publish what arrives locally, \
              at the given QoS (default 0); repeat for more filters.",
        set: Bridge |b, v| b.subscribe.push(v.topic()?),
        get: |b| topics(&b.subscribe),
    },
    opt! {
        name: "local_username", kind: Text, default: Note("none"), example: "bridge",
        support: NY,
        doc: "Username the bridge's local session has, for ACL and plugin checks.",
        set: Bridge |b, v| b.local_username = Some(v.text()?),
        get: |b| opt(&b.local_username),
    },
    opt! {
        name: "remote_username", kind: Text, default: Note("none"), example: "site1",
        support: NY,
        doc: "Username sent to the remote broker.",
        set: Bridge |b, v| b.remote_username = Some(v.text()?),
        get: |b| opt(&b.remote_username),
    },
    opt! {
        name: "remote_password", kind: Text, default: Note("none"), example: "s3cret",
        support: NY,
        doc: "Password sent to the remote broker. Keep the config file private.",
        set: Bridge |b, v| b.remote_password = Some(Secret(v.text()?)),
        get: |b| b.remote_password.iter().map(|s| vec![s.0.clone()]).collect(),
    },
    opt! {
        name: "remote_clean_start", kind: Bool, default: Is("true"), example: "false",
        support: NY,
        doc: "Ask the remote broker for a clean session on every connect.",
        set: Bridge |b, v| b.remote_clean_start = v.flag()?,
        get: |b| one(b.remote_clean_start),
    },
    opt! {
        name: "local_clean_start", kind: Bool, default: Is("true"), example: "false",
        support: NY,
        doc: "Start the bridge's local session clean on every connect.",
        set: Bridge |b, v| b.local_clean_start = v.flag()?,
        get: |b| one(b.local_clean_start),
    },
    opt! {
        name: "remote_session_expiry_interval", kind: int(0, U32, Unit::Seconds),
        default: Is("0"), example: "3600", support: NY,
        doc: "Session expiry interval requested from the remote broker (MQTT 5).",
        set: Bridge |b, v| b.remote_session_expiry_interval_secs = v.num()?,
        get: |b| one(b.remote_session_expiry_interval_secs),
    },
    opt! {
        name: "local_session_expiry_interval", kind: int(0, U32, Unit::Seconds),
        default: Is("0"), example: "3600", support: NY,
        doc: "Session expiry interval of the bridge's local session.",
        set: Bridge |b, v| b.local_session_expiry_interval_secs = v.num()?,
        get: |b| one(b.local_session_expiry_interval_secs),
    },
    opt! {
        name: "remote_retain_available", kind: Bool, default: Is("true"), example: "false",
        support: NY,
        doc: "Set to false for an MQTT 3 remote without retained messages, so the bridge \
              emulates \"retain not available\".",
        set: Bridge |b, v| b.remote_retain_available = v.flag()?,
        get: |b| one(b.remote_retain_available),
    },
    opt! {
        name: "use_saved_clientid", kind: Bool, default: Is("false"), example: "true",
        support: NY,
        doc: "Reuse the client id saved in `storage_dir`, so a restarted broker resumes its \
              remote session.",
        set: Bridge |b, v| b.use_saved_clientid = v.flag()?,
        get: |b| one(b.use_saved_clientid),
    },
    opt! {
        name: "max_outgoing_topic_aliases", kind: int(0, U16, Unit::Count), default: Is("0"),
        example: "100", support: NY,
        doc: "Topic aliases the bridge uses towards the remote broker (MQTT 5).",
        set: Bridge |b, v| b.max_outgoing_topic_aliases = v.num()?,
        get: |b| one(b.max_outgoing_topic_aliases),
    },
    opt! {
        name: "max_incoming_topic_aliases", kind: int(0, U16, Unit::Count), default: Is("0"),
        example: "100", support: NY,
        doc: "Topic aliases the bridge accepts from the remote broker (MQTT 5).",
        set: Bridge |b, v| b.max_incoming_topic_aliases = v.num()?,
        get: |b| one(b.max_incoming_topic_aliases),
    },
    opt! {
        name: "tcp_nodelay", kind: Bool, default: Is("false"), example: "true", support: NY,
        doc: "Set TCP_NODELAY on the bridge's socket.",
        set: Bridge |b, v| b.tcp_nodelay = v.flag()?,
        get: |b| one(b.tcp_nodelay),
    },
    opt! {
        name: "local_prefix", kind: Prefix, default: Note("none"), example: "site1/",
        support: NY,
        doc: "Prefix that local topics carry and remote ones do not; it is stripped going out \
              and added coming in. Must end in `/`.",
        set: Bridge |b, v| b.local_prefix = Some(v.text()?),
        get: |b| opt(&b.local_prefix),
    },
    opt! {
        name: "remote_prefix", kind: Prefix, default: Note("none"), example: "from-site1/",
        support: NY,
        doc: "Prefix that remote topics carry and local ones do not. Must end in `/`.",
        set: Bridge |b, v| b.remote_prefix = Some(v.text()?),
        get: |b| opt(&b.remote_prefix),
    },
    opt! {
        name: "connection_count", kind: ConnectionCount, default: Is("1"), example: "auto",
        support: NY,
        doc: "Parallel connections to the remote broker, or `auto` for one per CPU; messages \
              are spread over them with a shared subscription.",
        set: Bridge |b, v| b.connection_count = v.count()?,
        get: |b| match b.connection_count {
            crate::types::ConnectionCount::Auto => one("auto"),
            crate::types::ConnectionCount::Fixed(n) => one(n),
        },
    },
    opt! {
        name: "max_buffer_size", kind: int(4096, 1 << 30, Unit::Bytes),
        default: Note("the global client_max_write_buffer_size"), example: "65536",
        support: NY,
        doc: "Write buffer cap of each bridge connection, at most 1 GiB.",
        set: Bridge |b, v| b.max_buffer_size = Some(v.num()?),
        get: |b| opt(&b.max_buffer_size),
    },
];
