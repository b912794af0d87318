//! Global directives, part one: plugins, logging, client identity rules, authentication and
//! the packet, string and buffer limits.

use super::DefaultValue::{Is, Note};
use super::{I32, OptionDesc, Support::Honoured, U32, int, not_yet, nothing, one, opt};
use crate::types::LogLevel;
use crate::value::{Unit, ValueKind::*};

const PLUGINS: &str = "plugins";

pub(super) static OPTIONS: &[OptionDesc] = &[
    opt! {
        name: "plugin", kind: Path, default: Note("none"), example: "/usr/lib/auth.so",
        support: not_yet(PLUGINS),
        doc: "Path to a plugin shared object. FlashMQ detects whether it is a FlashMQ native \
              plugin or a Mosquitto auth plugin (version 2).",
        set: Global |c, v| c.plugin = Some(v.text()?),
        get: |c| opt(&c.plugin),
    },
    opt! {
        name: "plugin_opt_*", kind: Text, default: Note("none"), example: "value",
        support: not_yet(PLUGINS),
        doc: "Any key starting with `plugin_opt_` is passed to the plugin's init functions, \
              without the prefix, as a key/value pair.",
        set: Global |_c, v| drop(v),
        get: |_c| nothing(),
    },
    opt! {
        name: "plugin_serialize_init", kind: Bool, default: Is("false"), example: "true",
        support: not_yet(PLUGINS),
        doc: "Run the plugin's init functions under one global lock, for plugins that are not \
              thread-safe while starting.",
        set: Global |c, v| c.plugin_serialize_init = v.flag()?,
        get: |c| one(c.plugin_serialize_init),
    },
    opt! {
        name: "plugin_serialize_auth_checks", kind: Bool, default: Is("false"), example: "true",
        support: not_yet(PLUGINS),
        doc: "Serialize every login and ACL call into the plugin, for plugins that are not \
              thread-safe at all.",
        set: Global |c, v| c.plugin_serialize_auth_checks = v.flag()?,
        get: |c| one(c.plugin_serialize_auth_checks),
    },
    opt! {
        name: "plugin_timer_period", kind: int(0, I32, Unit::Seconds), default: Is("60"),
        example: "30", support: not_yet(PLUGINS),
        doc: "Seconds between calls of the plugin's periodic event; 0 turns the calls off. \
              Re-read on reload.",
        set: Global |c, v| c.plugin_timer_period_secs = v.num()?,
        get: |c| one(c.plugin_timer_period_secs),
    },
    opt! {
        name: "log_file", kind: Path, default: Note("standard output"),
        example: "/var/log/brokkr/brokkr.log", support: Honoured,
        doc: "File to append the log to. Without it the log goes to standard output.",
        set: Global |c, v| c.log_file = Some(v.text()?),
        get: |c| opt(&c.log_file),
    },
    opt! {
        name: "log_level", kind: Keyword(LogLevel::NAMES), default: Is("info"),
        example: "debug", support: Honoured,
        doc: "Least severe level written to the log: debug, info, notice, warning, error or \
              none.",
        set: Global |c, v| c.log_level = v.keyword(LogLevel::from_name)?,
        get: |c| one(c.log_level),
    },
    opt! {
        name: "log_debug", kind: Bool, default: Is("false"), example: "true",
        support: Honoured,
        doc: "Deprecated: use `log_level debug`. When true it overrides `log_level`.",
        set: Global |c, v| c.log_debug = v.flag()?,
        get: |c| one(c.log_debug),
    },
    opt! {
        name: "quiet", kind: Bool, default: Is("false"), example: "true",
        support: Honoured,
        doc: "Deprecated: use `log_level warning`. When true, info and notice lines are not \
              logged.",
        set: Global |c, v| c.quiet = v.flag()?,
        get: |c| one(c.quiet),
    },
    opt! {
        name: "log_subscriptions", kind: Bool, default: Is("false"), example: "true",
        support: Honoured,
        doc: "Log every subscribe and unsubscribe.",
        set: Global |c, v| c.log_subscriptions = v.flag()?,
        get: |c| one(c.log_subscriptions),
    },
    opt! {
        name: "log_publishes", kind: Bool, default: Is("false"), example: "true",
        support: Honoured,
        doc: "Log every PUBLISH received (client, topic, QoS, retain, payload size; not the \
              payload). Expensive; meant for debugging.",
        set: Global |c, v| c.log_publishes = v.flag()?,
        get: |c| one(c.log_publishes),
    },
    opt! {
        name: "allow_unsafe_clientid_chars", kind: Bool, default: Is("false"), example: "true",
        support: Honoured,
        doc: "Accept `+` and `#` in client ids. They are refused by default because ACL \
              patterns substitute the client id into topics.",
        set: Global |c, v| c.allow_unsafe_clientid_chars = v.flag()?,
        get: |c| one(c.allow_unsafe_clientid_chars),
    },
    opt! {
        name: "allow_unsafe_username_chars", kind: Bool, default: Is("false"), example: "true",
        support: Honoured,
        doc: "Accept `+` and `#` in usernames, with the same ACL-pattern risk as client ids.",
        set: Global |c, v| c.allow_unsafe_username_chars = v.flag()?,
        get: |c| one(c.allow_unsafe_username_chars),
    },
    opt! {
        name: "max_string_length", kind: int(1, 65_535, Unit::Bytes), default: Is("4096"),
        example: "1024", support: Honoured,
        doc: "Longest topic, client id, username or property string accepted. Passwords and \
              payloads are exempt.",
        set: Global |c, v| c.max_string_length = v.num()?,
        get: |c| one(c.max_string_length),
    },
    opt! {
        name: "max_packet_size", kind: int(1, 268_435_461, Unit::Bytes),
        default: Is("268435460"), example: "1048576", support: Honoured,
        doc: "Largest packet accepted from a client, fixed header included. It is advertised to \
              MQTT 5 clients as Maximum Packet Size.",
        set: Global |c, v| c.max_packet_size = v.num()?,
        get: |c| one(c.max_packet_size),
    },
    opt! {
        name: "client_max_write_buffer_size", kind: int(4096, U32, Unit::Bytes),
        default: Is("1048576"), example: "65536", support: Honoured,
        doc: "Approximate cap on a client's write buffer (and, despite the name, its read \
              buffer). QoS 0 messages to a full buffer are dropped. Listeners can override it \
              (`max_buffer_size`); each connection keeps the value it was accepted with.",
        set: Global |c, v| c.client_max_write_buffer_size = v.num()?,
        get: |c| one(c.client_max_write_buffer_size),
    },
    opt! {
        name: "client_initial_buffer_size", kind: PowerOfTwo { min: 1, max: 1 << 30 },
        default: Is("1024"), example: "4096", support: Honoured,
        doc: "A power of two: the capacity a client's empty read or write buffer may keep \
              between bursts. FlashMQ starts every buffer at this size and shrinks idle ones \
              back to it; brokkr allocates a connection's buffers on demand (an idle connection \
              holds none) and lets them grow as needed, then releases an empty buffer larger \
              than this. Larger values save reallocations for clients that exchange big \
              packets; applies from the next burst after a reload.",
        set: Global |c, v| c.client_initial_buffer_size = v.num()?,
        get: |c| one(c.client_initial_buffer_size),
    },
    opt! {
        name: "mosquitto_password_file", kind: Path, default: Note("none"),
        example: "/etc/brokkr/passwd", support: Honoured,
        doc: "Mosquitto-format password file (`user:hash` lines, `$6$` and `$7$` hashes). \
              Re-read on reload.",
        set: Global |c, v| c.mosquitto_password_file = Some(v.text()?),
        get: |c| opt(&c.mosquitto_password_file),
    },
    opt! {
        name: "mosquitto_acl_file", kind: Path, default: Note("none"),
        example: "/etc/brokkr/acl", support: Honoured,
        doc: "Mosquitto-format ACL file (`user`, `topic` and `pattern` lines). Re-read on \
              reload.",
        set: Global |c, v| c.mosquitto_acl_file = Some(v.text()?),
        get: |c| opt(&c.mosquitto_acl_file),
    },
    opt! {
        name: "allow_anonymous", kind: Bool, default: Is("false"), example: "true",
        support: Honoured,
        doc: "Accept clients that send no username. Listeners can override it.",
        set: Global |c, v| c.allow_anonymous = v.flag()?,
        get: |c| one(c.allow_anonymous),
    },
    opt! {
        name: "zero_byte_username_is_anonymous", kind: Bool, default: Is("false"),
        example: "true", support: Honoured,
        doc: "Treat an empty username as no username, so `allow_anonymous` decides.",
        set: Global |c, v| c.zero_byte_username_is_anonymous = v.flag()?,
        get: |c| one(c.zero_byte_username_is_anonymous),
    },
    opt! {
        name: "rlimit_nofile", kind: int(1, I32, Unit::Count), default: Is("1000000"),
        example: "65536", support: Honoured,
        doc: "Open-file limit the broker sets for itself at start-up (setrlimit NOFILE).",
        set: Global |c, v| c.rlimit_nofile = v.num()?,
        get: |c| one(c.rlimit_nofile),
    },
    opt! {
        name: "expire_sessions_after_seconds", kind: int(0, U32, Unit::Seconds),
        default: Is("1209600"), example: "3600", support: Honoured,
        doc: "Upper bound on any session's lifetime after its client disconnects; an MQTT 5 \
              session expiry request is clamped to it. 0 means never; otherwise at least 60.",
        set: Global |c, v| {
            let secs: u32 = v.num()?;
            if (1..60).contains(&secs) {
                return Err("0 (never) or at least 60 seconds".to_owned());
            }
            c.expire_sessions_after_seconds = secs
        },
        get: |c| one(c.expire_sessions_after_seconds),
    },
];
