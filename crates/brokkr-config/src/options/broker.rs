//! Global directives, part two: persistence, QoS queues, topic aliases, threads, wills,
//! retained messages, the subscription tree, overload protection and `include_dir`.

use super::DefaultValue::{Is, Note};
use super::Support::{Deprecated, Honoured};
use super::{I32, OptionDesc, U16, U32, each, int, no_effect, nothing, one, opt};
use crate::types::{
    EnforcementMode, OverloadMode, QosExceedAction, RetainedMessagesMode,
    SharedSubscriptionTargeting, WildcardSubscriptionDenyMode,
};
use crate::value::{Unit, ValueKind::*};

const RETAINED_LOCK: &str = "brokkr never waits long for the retained store's lock: a set \
     holds it for one insert, and a subscriber's delivery of retained messages for one slice of \
     at most 1,000 nodes, so there is nothing to defer";

pub(super) static OPTIONS: &[OptionDesc] = &[
    opt! {
        name: "storage_dir", kind: Path, default: Note("none: nothing is saved"),
        example: "/var/lib/brokkr", support: Honoured,
        doc: "Directory where retained messages, sessions, subscriptions and bridge client ids \
              are saved, on an interval and at shutdown, and loaded at start-up.",
        set: Global |c, v| c.storage_dir = Some(v.text()?),
        get: |c| opt(&c.storage_dir),
    },
    opt! {
        name: "save_state_interval", kind: int(1, I32, Unit::Seconds), default: Is("3623"),
        example: "600", support: Honoured,
        doc: "Seconds between background saves of the state to `storage_dir`. Re-read on \
              reload.",
        set: Global |c, v| c.save_state_interval_secs = v.num()?,
        get: |c| one(c.save_state_interval_secs),
    },
    opt! {
        name: "persistence_data_to_save", kind: PersistenceList, default: Is("all"),
        example: "all !retained_messages", support: Honoured,
        doc: "Which state is saved: `all`, `sessions_and_subscriptions`, `retained_messages` \
              and `bridge_info`, each negatable with `!`, applied left to right.",
        set: Global |c, v| c.persistence_data_to_save = v.persistence()?,
        get: |c| vec![c.persistence_data_to_save.to_words().iter().map(|w| w.to_string()).collect()],
    },
    opt! {
        name: "persistence_journal", kind: Bool, default: Is("false"), example: "true",
        support: Honoured,
        doc: "brokkr extension (FlashMQ has no such directive): with `storage_dir`, append \
              every acknowledged change (a QoS 1/2 message with a subscriber, a retained \
              message, a persistent session's subscriptions) to a journal in `storage_dir` and \
              make it durable before the acknowledgement is sent (group commit: one fsync for \
              all acknowledgements waiting); after a crash the journal is replayed on top of \
              the last saved state, so nothing acknowledged is lost. Folded into the state \
              files and truncated at each `save_state_interval`. Costs throughput on QoS 1/2 \
              (see docs/benchmarks.md). Takes effect at restart.",
        set: Global |c, v| c.persistence_journal = v.flag()?,
        get: |c| one(c.persistence_journal),
    },
    opt! {
        name: "max_qos_msg_pending_per_client", kind: int(32, U16, Unit::Count),
        default: Is("512"), example: "64", support: Honoured,
        doc: "Most QoS 1 and 2 messages queued or in flight per session; also advertised to \
              MQTT 5 clients as Receive Maximum. Applies to new connections.",
        set: Global |c, v| c.max_qos_msg_pending_per_client = v.num()?,
        get: |c| one(c.max_qos_msg_pending_per_client),
    },
    opt! {
        name: "max_qos_bytes_pending_per_client", kind: int(4096, U32, Unit::Bytes),
        default: Is("65536"), example: "1048576", support: Honoured,
        doc: "Most bytes of queued QoS 1 and 2 messages per session; one message is always \
              allowed whatever its size.",
        set: Global |c, v| c.max_qos_bytes_pending_per_client = v.num()?,
        get: |c| one(c.max_qos_bytes_pending_per_client),
    },
    opt! {
        name: "max_qos", kind: int(0, 2, Unit::Count), default: Is("2"), example: "1",
        support: Honoured,
        doc: "Highest QoS the broker accepts. Subscriptions are downgraded to it; a publish or \
              will above it disconnects an MQTT 5 client and follows `mqtt3_qos_exceed_action` \
              for MQTT 3. Listeners can override it; each connection keeps the value it was \
              accepted with (a reload applies to new connections).",
        set: Global |c, v| c.max_qos = v.num()?,
        get: |c| one(c.max_qos),
    },
    opt! {
        name: "mqtt3_qos_exceed_action", kind: Keyword(QosExceedAction::NAMES),
        default: Is("disconnect"), example: "drop", support: Honoured,
        doc: "What to do with an MQTT 3 publish above `max_qos`: `drop` acknowledges and \
              discards it, `disconnect` closes the connection. Listeners can override it; \
              each connection keeps the value it was accepted with.",
        set: Global |c, v| c.mqtt3_qos_exceed_action = v.keyword(QosExceedAction::from_name)?,
        get: |c| one(c.mqtt3_qos_exceed_action),
    },
    opt! {
        name: "max_incoming_topic_alias_value", kind: int(0, U16, Unit::Count),
        default: Is("65535"), example: "10", support: Honoured,
        doc: "Topic Alias Maximum advertised to MQTT 5 clients: how many aliases a client may \
              use towards the broker.",
        set: Global |c, v| c.max_incoming_topic_alias_value = v.num()?,
        get: |c| one(c.max_incoming_topic_alias_value),
    },
    opt! {
        name: "max_outgoing_topic_alias_value", kind: int(0, U16, Unit::Count),
        default: Is("65535"), example: "10", support: Honoured,
        doc: "Most topic aliases the broker assigns per client when sending (bounded by what \
              the client allows).",
        set: Global |c, v| c.max_outgoing_topic_alias_value = v.num()?,
        get: |c| one(c.max_outgoing_topic_alias_value),
    },
    opt! {
        name: "thread_count", kind: int(0, U16, Unit::Count), default: Is("0"), example: "4",
        support: Honoured,
        doc: "Number of worker threads; 0 means one per CPU.",
        set: Global |c, v| c.thread_count = Some(v.num()?).filter(|&n: &u16| n > 0),
        get: |c| one(c.thread_count.unwrap_or(0)),
    },
    opt! {
        name: "wills_enabled", kind: Bool, default: Is("true"), example: "false",
        support: Honoured,
        doc: "Whether last-will messages are honoured at all.",
        set: Global |c, v| c.wills_enabled = v.flag()?,
        get: |c| one(c.wills_enabled),
    },
    opt! {
        name: "retained_messages_mode", kind: Keyword(RetainedMessagesMode::NAMES),
        default: Is("enabled"), example: "drop", support: Honoured,
        doc: "`enabled` stores and delivers retained messages; `enabled_without_persistence` \
              neither saves them to nor loads them from `storage_dir`; \
              `enabled_without_retaining` relays the retain flag (seen by Retain As Published \
              subscriptions) without storing; `downgrade` clears the flag; `drop` acknowledges \
              and discards such publishes; `disconnect_with_error` disconnects the sender (MQTT \
              5: reason 0x9A) and refuses a CONNECT with a retained will. All but the first two \
              tell MQTT 5 clients that retain is not available; wills follow the same rules; \
              the broker's own `$SYS` topics stay retained. Only `enabled` loads and saves \
              retained messages; that part changes at restart, the rest on reload.",
        set: Global |c, v| c.retained_messages_mode = v.keyword(RetainedMessagesMode::from_name)?,
        get: |c| one(c.retained_messages_mode),
    },
    opt! {
        name: "expire_retained_messages_after_seconds", kind: int(1, U32, Unit::Seconds),
        default: Is("4294967295"), example: "86400", support: Honoured,
        doc: "Time to live of every retained message, on top of any message expiry interval.",
        set: Global |c, v| c.expire_retained_messages_after_seconds = v.num()?,
        get: |c| one(c.expire_retained_messages_after_seconds),
    },
    opt! {
        name: "retained_messages_delivery_limit", kind: Text, default: Note("none"),
        example: "100", support: Deprecated { note: "use retained_messages_node_limit" },
        doc: "Deprecated and ignored, as in FlashMQ; use `retained_messages_node_limit`.",
        set: Global |_c, v| drop(v),
        get: |_c| nothing(),
    },
    opt! {
        name: "retained_messages_node_limit", kind: int(1, U32, Unit::Count),
        default: Note("unlimited"), example: "10000", support: Honoured,
        doc: "Most retained-tree nodes walked to deliver retained messages for one subscribe \
              (every node entered counts, whether it holds a matching message or not); the \
              messages beyond are not sent. A reload applies to the walks still running too.",
        set: Global |c, v| c.retained_messages_node_limit = Some(v.num()?),
        get: |c| opt(&c.retained_messages_node_limit),
    },
    opt! {
        name: "retained_messages_node_creation_limit", kind: int(1, U32, Unit::Count),
        default: Note("unlimited"), example: "1000", support: Honoured,
        doc: "Most retained-tree nodes under one node at the enforcement depth, against \
              clients that flood unique retained topics: a retained message whose topic would \
              need more is still delivered, but not retained (see the enforcement mode). \
              Topics under `$` are not counted. Unlike FlashMQ, replacing or deleting a \
              retained message is never refused (neither creates a node), and brokkr frees \
              empty nodes at once, so deleting retained messages makes room again.",
        set: Global |c, v| c.retained_messages_node_creation_limit = Some(v.num()?),
        get: |c| opt(&c.retained_messages_node_creation_limit),
    },
    opt! {
        name: "retained_messages_node_creation_limit_enforcement_depth",
        kind: int(0, U16, Unit::Count), default: Is("65535"), example: "1",
        support: Honoured,
        doc: "Topic depth of the nodes whose subtrees the node creation limit caps: 0 caps \
              the whole tree, 1 each first-level topic (one per device, say); 65535 turns the \
              limit off.",
        set: Global |c, v| c.retained_messages_node_creation_limit_enforcement_depth = v.num()?,
        get: |c| one(c.retained_messages_node_creation_limit_enforcement_depth),
    },
    opt! {
        name: "retained_messages_node_creation_limit_enforcement_mode",
        kind: Keyword(EnforcementMode::NAMES), default: Is("reject"), example: "log",
        support: Honoured,
        doc: "`reject` does not retain a message beyond the node creation limit (it is still \
              delivered); `log` retains it anyway. Both log it, at most once a second per \
              worker.",
        set: Global |c, v| {
            c.retained_messages_node_creation_limit_enforcement_mode =
                v.keyword(EnforcementMode::from_name)?
        },
        get: |c| one(c.retained_messages_node_creation_limit_enforcement_mode),
    },
    opt! {
        name: "retained_message_max_payload_size", kind: int(0, U32, Unit::Bytes),
        default: Note("unlimited"), example: "65536", support: Honoured,
        doc: "Largest payload kept as a retained message; larger ones are delivered but not \
              retained.",
        set: Global |c, v| c.retained_message_max_payload_size = Some(v.num()?),
        get: |c| opt(&c.retained_message_max_payload_size),
    },
    opt! {
        name: "set_retained_message_defer_timeout", kind: int(0, I32, Unit::Millis),
        default: Is("0"), example: "100", support: no_effect(RETAINED_LOCK),
        doc: "FlashMQ: when the retained tree is busy, defer storing a retained message for up \
              to this long instead of waiting for the lock; 0 always waits. Accepted; no effect \
              in brokkr, which never waits long for that lock (a set holds it for one insert, a \
              subscriber's retained delivery for one slice of at most 1,000 nodes).",
        set: Global |c, v| c.set_retained_message_defer_timeout_ms = v.num()?,
        get: |c| one(c.set_retained_message_defer_timeout_ms),
    },
    opt! {
        name: "set_retained_message_defer_timeout_spread", kind: int(0, I32, Unit::Millis),
        default: Is("1000"), example: "500", support: no_effect(RETAINED_LOCK),
        doc: "FlashMQ: random jitter added to `set_retained_message_defer_timeout`, so \
              deferred stores do not retry together. Accepted; no effect in brokkr, which \
              defers nothing (see that directive).",
        set: Global |c, v| c.set_retained_message_defer_timeout_spread_ms = v.num()?,
        get: |c| one(c.set_retained_message_defer_timeout_spread_ms),
    },
    opt! {
        name: "retained_message_node_lifetime", kind: int(0, I32, Unit::Seconds),
        default: Is("0"), example: "60",
        support: no_effect(
            "brokkr frees an empty retained-tree node as soon as its last message is removed, \
             which is what FlashMQ's default of 0 comes closest to"
        ),
        doc: "FlashMQ: grace time before an empty retained-tree node is removed by its \
              periodic purge. Accepted; no effect in brokkr, which frees an empty node as soon \
              as its last message is removed (the creation limit's counts rely on it).",
        set: Global |c, v| c.retained_message_node_lifetime_secs = v.num()?,
        get: |c| one(c.retained_message_node_lifetime_secs),
    },
    opt! {
        name: "subscription_node_lifetime", kind: int(0, I32, Unit::Seconds),
        default: Is("3600"), example: "60",
        support: no_effect(
            "brokkr frees an empty subscription-tree node at once; FlashMQ keeps them so that \
             a resubscribe can skip its tree's write lock, which brokkr takes for every \
             subscribe anyway (for one insert)"
        ),
        doc: "FlashMQ: grace time before an empty subscription-tree node is removed, so that \
              clients resubscribing find their node without taking the tree's write lock. \
              Accepted; no effect in brokkr, which frees an empty node at once and takes the \
              write lock for one insert on every subscribe.",
        set: Global |c, v| c.subscription_node_lifetime_secs = v.num()?,
        get: |c| one(c.subscription_node_lifetime_secs),
    },
    opt! {
        name: "websocket_set_real_ip_from", kind: Cidr, default: Note("none"),
        example: "10.0.0.0/8", support: Honoured,
        doc: "A network trusted to set `X-Real-IP` on websocket connections (the client's \
              address for logs and `only_allow_from`/`deny_from`); repeat the line for more \
              networks. `X-Forwarded-For` is ignored, as FlashMQ does.",
        set: Global |c, v| c.websocket_set_real_ip_from.push(v.cidr()?),
        get: |c| each(&c.websocket_set_real_ip_from),
    },
    opt! {
        name: "shared_subscription_targeting", kind: Keyword(SharedSubscriptionTargeting::NAMES),
        default: Is("round_robin"), example: "sender_hash", support: Honoured,
        doc: "How a shared subscription picks a member: `round_robin`, `sender_hash` (the same \
              publisher always reaches the same member) or `first`.",
        set: Global |c, v| {
            c.shared_subscription_targeting = v.keyword(SharedSubscriptionTargeting::from_name)?
        },
        get: |c| one(c.shared_subscription_targeting),
    },
    opt! {
        name: "minimum_wildcard_subscription_depth", kind: int(0, U16, Unit::Count),
        default: Is("0"), example: "2", support: Honoured,
        doc: "Refuse subscriptions with a wildcard above this topic depth (0 allows `#`).",
        set: Global |c, v| c.minimum_wildcard_subscription_depth = v.num()?,
        get: |c| one(c.minimum_wildcard_subscription_depth),
    },
    opt! {
        name: "wildcard_subscription_deny_mode",
        kind: Keyword(WildcardSubscriptionDenyMode::NAMES), default: Is("deny_all"),
        example: "deny_retained_only", support: Honoured,
        doc: "What a too-shallow wildcard subscription gets: `deny_all` refuses it, \
              `deny_retained_only` accepts it but sends no retained messages.",
        set: Global |c, v| {
            c.wildcard_subscription_deny_mode =
                v.keyword(WildcardSubscriptionDenyMode::from_name)?
        },
        get: |c| one(c.wildcard_subscription_deny_mode),
    },
    opt! {
        name: "max_topic_split_depth", kind: int(1, U16, Unit::Count), default: Is("128"),
        example: "32", support: Honoured,
        doc: "Most levels in a topic name or filter.",
        set: Global |c, v| c.max_topic_split_depth = v.num()?,
        get: |c| one(c.max_topic_split_depth),
    },
    opt! {
        name: "overload_mode", kind: Keyword(OverloadMode::NAMES), default: Is("log"),
        example: "close_new_clients", support: Honoured,
        doc: "What to do with new connections while the broker is overloaded, that is while \
              an event loop runs late by more than `max_event_loop_drift`: `log` accepts them \
              and logs (rate-limited); `close_new_clients` closes them at accept, before \
              anything is read (against reconnect storms after a restart). Listeners can \
              override it; re-read on reload.",
        set: Global |c, v| c.overload_mode = v.keyword(OverloadMode::from_name)?,
        get: |c| one(c.overload_mode),
    },
    opt! {
        name: "max_event_loop_drift", kind: int(500, I32, Unit::Millis), default: Is("2000"),
        example: "1000", support: Honoured,
        doc: "How late an event loop's once-a-second timer may fire before the broker counts \
              as overloaded, checked on worker 0 (which accepts, as FlashMQ's main loop) and on \
              the median of all workers. Re-read on reload.",
        set: Global |c, v| c.max_event_loop_drift_ms = v.num()?,
        get: |c| one(c.max_event_loop_drift_ms),
    },
    opt! {
        name: "include_dir", kind: Path, default: Note("none"), example: "/etc/brokkr/conf.d",
        support: Honoured,
        doc: "Read every `*.conf` file in this directory, in name order, as if its lines \
              stood here. A missing directory is an error; only valid at the top level.",
        set: Global |_c, v| drop(v),
        get: |_c| nothing(),
    },
    opt! {
        name: "subscription_identifiers_enabled", kind: Bool, default: Is("true"),
        example: "false", support: Honoured,
        doc: "Whether MQTT 5 subscription identifiers are accepted; when off, a client sending \
              one is disconnected.",
        set: Global |c, v| c.subscription_identifiers_enabled = v.flag()?,
        get: |c| one(c.subscription_identifiers_enabled),
    },
    opt! {
        name: "expire_retained_messages_time_budget_ms", kind: Text, default: Note("none"),
        example: "100", support: Deprecated { note: "it no longer has any effect" },
        doc: "Deprecated and ignored, as in FlashMQ.",
        set: Global |_c, v| drop(v),
        get: |_c| nothing(),
    },
    opt! {
        name: "rebuild_subscription_tree_interval_seconds", kind: Text, default: Note("none"),
        example: "3600", support: Deprecated { note: "it no longer has any effect" },
        doc: "Deprecated and ignored, as in FlashMQ.",
        set: Global |_c, v| drop(v),
        get: |_c| nothing(),
    },
];
