//! Listener directives, valid only inside `listen { }`.

use super::DefaultValue::{self, Is, Note};
use super::Support::Honoured;
use super::{OptionDesc, U16, U32, each, int, not_yet, octal, one, opt};
use crate::types::{
    HaproxyMode, InetProtocol, ListenerProtocol, OverloadMode, QosExceedAction, TlsVersion,
};
use crate::value::{Unit, ValueKind::*};

const INHERIT: DefaultValue = Note("the global setting");

pub(super) static OPTIONS: &[OptionDesc] = &[
    opt! {
        name: "protocol", kind: Keyword(ListenerProtocol::NAMES), default: Is("mqtt"),
        example: "websockets", support: Honoured,
        not_yet_values: &[("acme", "ACME listeners")],
        doc: "What the listener speaks: `mqtt`, `websockets` (MQTT over websockets), or \
              `acme` (only answers HTTP ACME challenges, see `acme_redirect_url`).",
        set: Listen |l, v| l.protocol = v.keyword(ListenerProtocol::from_name)?,
        get: |l| one(l.protocol),
    },
    opt! {
        name: "port", kind: int(0, U16, Unit::Count),
        default: Note("1883; 8883 with TLS; 8080 for websockets, 4443 with TLS"),
        example: "1884", support: Honoured,
        doc: "TCP port to listen on. 0 asks the system for a free port (for tests).",
        set: Listen |l, v| l.port = Some(v.num()?),
        get: |l| opt(&l.port),
    },
    opt! {
        name: "inet_protocol", kind: Keyword(InetProtocol::NAMES), default: Is("ip4_ip6"),
        example: "ip4", support: Honoured,
        doc: "Address families to listen on: `ip4_ip6`, `ip4`, `ip6`, or `unix` for a unix \
              domain socket at `unix_socket_path`.",
        set: Listen |l, v| l.inet_protocol = v.keyword(InetProtocol::from_name)?,
        get: |l| one(l.inet_protocol),
    },
    opt! {
        name: "inet4_bind_address", kind: Ipv4, default: Is("0.0.0.0"), example: "127.0.0.1",
        support: Honoured,
        doc: "IPv4 address to bind; 0.0.0.0 is every interface.",
        set: Listen |l, v| l.inet4_bind_address = v.ipv4()?,
        get: |l| one(l.inet4_bind_address),
    },
    opt! {
        name: "inet6_bind_address", kind: Ipv6, default: Is("::"), example: "::1",
        support: Honoured,
        doc: "IPv6 address to bind; `::` (FlashMQ writes `::0`) is every interface.",
        set: Listen |l, v| l.inet6_bind_address = v.ipv6()?,
        get: |l| one(l.inet6_bind_address),
    },
    opt! {
        name: "unix_socket_path", kind: Path, default: Note("none"),
        example: "/run/brokkr/mqtt.sock", support: Honoured,
        doc: "Path of the unix domain socket for `inet_protocol unix`; a stale socket file \
              there is removed first.",
        set: Listen |l, v| l.unix_socket_path = Some(v.text()?),
        get: |l| opt(&l.unix_socket_path),
    },
    opt! {
        name: "unix_socket_user", kind: Word, default: Note("the broker's user"),
        example: "mqtt", support: Honoured,
        doc: "Owner given to the unix socket.",
        set: Listen |l, v| l.unix_socket_user = Some(v.text()?),
        get: |l| opt(&l.unix_socket_user),
    },
    opt! {
        name: "unix_socket_group", kind: Word, default: Note("the broker's group"),
        example: "mqtt", support: Honoured,
        doc: "Group given to the unix socket.",
        set: Listen |l, v| l.unix_socket_group = Some(v.text()?),
        get: |l| opt(&l.unix_socket_group),
    },
    opt! {
        name: "unix_socket_mode", kind: OctalMode, default: Note("the process umask decides"),
        example: "660", support: Honoured,
        doc: "Permission bits of the unix socket, in octal (`600`).",
        set: Listen |l, v| l.unix_socket_mode = Some(v.num()?),
        get: |l| octal(l.unix_socket_mode),
    },
    opt! {
        name: "fullchain", kind: Path, default: Note("none"),
        example: "/etc/brokkr/fullchain.pem", support: Honoured,
        doc: "Certificate chain (PEM). With `privkey` it makes the listener use TLS.",
        set: Listen |l, v| l.fullchain = Some(v.text()?),
        get: |l| opt(&l.fullchain),
    },
    opt! {
        name: "privkey", kind: Path, default: Note("none"), example: "/etc/brokkr/privkey.pem",
        support: Honoured,
        doc: "Private key (PEM) for `fullchain`.",
        set: Listen |l, v| l.privkey = Some(v.text()?),
        get: |l| opt(&l.privkey),
    },
    opt! {
        name: "minimum_tls_version", kind: Keyword(TlsVersion::NAMES), default: Is("tlsv1.1"),
        example: "tlsv1.3", support: Honoured,
        doc: "Oldest TLS version accepted: `tlsv1.2` or `tlsv1.3`. FlashMQ's `tlsv1.1` is \
              accepted and means `tlsv1.2`, with a warning at start-up: brokkr speaks TLS \
              1.2 and 1.3 only (RFC 8996 deprecates 1.0 and 1.1).",
        set: Listen |l, v| l.minimum_tls_version = v.keyword(TlsVersion::from_name)?,
        get: |l| one(l.minimum_tls_version),
    },
    opt! {
        name: "client_verification_ca_file", kind: Path, default: Note("none"),
        example: "/etc/brokkr/clients-ca.pem", support: Honoured,
        doc: "CA file for client certificates: clients must present one, and the username \
              is taken from its common name.",
        set: Listen |l, v| l.client_verification_ca_file = Some(v.text()?),
        get: |l| opt(&l.client_verification_ca_file),
    },
    opt! {
        name: "client_verification_ca_dir", kind: Path, default: Note("none"),
        example: "/etc/brokkr/clients-ca.d", support: Honoured,
        doc: "Like `client_verification_ca_file`, with an OpenSSL hashed CA directory.",
        set: Listen |l, v| l.client_verification_ca_dir = Some(v.text()?),
        get: |l| opt(&l.client_verification_ca_dir),
    },
    opt! {
        name: "client_verification_still_do_authn", kind: Bool, default: Is("false"),
        example: "true", support: Honoured,
        doc: "After a client certificate is verified, still check the username and password \
              (password file or plugin).",
        set: Listen |l, v| l.client_verification_still_do_authn = v.flag()?,
        get: |l| one(l.client_verification_still_do_authn),
    },
    opt! {
        name: "acme_redirect_url", kind: Text, default: Note("none"),
        example: "http://acme.example.com", support: not_yet("ACME redirects"),
        doc: "Redirect HTTP requests for `/.well-known/acme-challenge/` to this URL, on a \
              plain listener or a `protocol acme` one.",
        set: Listen |l, v| l.acme_redirect_url = Some(v.text()?),
        get: |l| opt(&l.acme_redirect_url),
    },
    opt! {
        name: "drop_on_absent_certificate", kind: Bool, default: Is("false"), example: "true",
        support: Honoured,
        doc: "Skip this listener, instead of failing, when its certificate or key file is \
              missing (certificates that arrive later).",
        set: Listen |l, v| l.drop_on_absent_certificate = v.flag()?,
        get: |l| one(l.drop_on_absent_certificate),
    },
    opt! {
        name: "only_allow_from", kind: Cidr, default: Note("everyone"), example: "10.0.0.0/8",
        support: Honoured,
        doc: "Accept connections only from this address or network; repeat for more.",
        set: Listen |l, v| l.only_allow_from.push(v.cidr()?),
        get: |l| each(&l.only_allow_from),
    },
    opt! {
        name: "deny_from", kind: Cidr, default: Note("nobody"), example: "192.0.2.0/24",
        support: Honoured,
        doc: "Refuse connections from this address or network (closed after a random delay \
              of 1 to 5 seconds); repeat for more.",
        set: Listen |l, v| l.deny_from.push(v.cidr()?),
        get: |l| each(&l.deny_from),
    },
    opt! {
        name: "allow_anonymous", kind: Bool, default: INHERIT, example: "true",
        support: Honoured,
        doc: "Per-listener override of the global `allow_anonymous`.",
        set: Listen |l, v| l.allow_anonymous = Some(v.flag()?),
        get: |l| opt(&l.allow_anonymous),
    },
    opt! {
        name: "overload_mode", kind: Keyword(OverloadMode::NAMES), default: INHERIT,
        example: "close_new_clients", support: Honoured,
        doc: "Per-listener override of the global `overload_mode`.",
        set: Listen |l, v| l.overload_mode = Some(v.keyword(OverloadMode::from_name)?),
        get: |l| opt(&l.overload_mode),
    },
    opt! {
        name: "haproxy", kind: Keyword(HaproxyMode::NAMES), default: Is("off"), example: "on",
        support: Honoured,
        doc: "Expect a PROXY protocol header (v2, as FlashMQ, or the v1 text form) before \
              anything else: `on` takes the client address from it, `client_verification` \
              also trusts its SSL CN as the username (a client without a verified \
              certificate is refused), and `client_verification_with_authn` then still \
              checks the password. Firewall such a listener: anyone who reaches it can \
              claim any address.",
        set: Listen |l, v| l.haproxy = v.keyword(HaproxyMode::from_name)?,
        get: |l| one(l.haproxy),
    },
    opt! {
        name: "tcp_nodelay", kind: Bool, default: Is("false"), example: "true",
        support: Honoured,
        doc: "Set TCP_NODELAY on accepted sockets, trading bandwidth for latency.",
        set: Listen |l, v| l.tcp_nodelay = v.flag()?,
        get: |l| one(l.tcp_nodelay),
    },
    opt! {
        name: "max_buffer_size", kind: int(4096, U32, Unit::Bytes), default: INHERIT,
        example: "65536", support: Honoured,
        doc: "Per-listener override of `client_max_write_buffer_size`, for connections \
              accepted on this listener.",
        set: Listen |l, v| l.max_buffer_size = Some(v.num()?),
        get: |l| opt(&l.max_buffer_size),
    },
    opt! {
        name: "max_qos", kind: int(0, 2, Unit::Count), default: INHERIT, example: "1",
        support: Honoured,
        doc: "Per-listener override of the global `max_qos`: subscriptions made through this \
              listener are downgraded to it, and MQTT 5 clients are told in CONNACK.",
        set: Listen |l, v| l.max_qos = Some(v.num()?),
        get: |l| opt(&l.max_qos),
    },
    opt! {
        name: "mqtt3_qos_exceed_action", kind: Keyword(QosExceedAction::NAMES),
        default: INHERIT, example: "drop", support: Honoured,
        doc: "Per-listener override of the global `mqtt3_qos_exceed_action`.",
        set: Listen |l, v| {
            l.mqtt3_qos_exceed_action = Some(v.keyword(QosExceedAction::from_name)?)
        },
        get: |l| opt(&l.mqtt3_qos_exceed_action),
    },
];
