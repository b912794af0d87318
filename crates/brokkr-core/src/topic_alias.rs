//! MQTT 5 topic aliases, both directions, per connection (MQTT-3.3.2-7: they die with it).
//!
//! Inbound: the client maps alias numbers to topics, up to the Topic Alias Maximum we advertised
//! (MQTT-3.3.2-9, reason 0x94). Outbound: we assign aliases to topics we send repeatedly, up to the
//! client's Topic Alias Maximum and our own cap (MQTT-3.3.2-11 / MQTT-3.1.2-26), and send the
//! topic only the first time. Both maps hold compacted copies of the topics (never slices of a
//! received packet) and both are capped in total bytes, so a client cannot grow them past
//! [`ALIAS_BYTES_MAX`] by choosing long topics. A map is allocated when its first alias is
//! defined: most connections never define one, and an idle connection keeps two bytes of limits
//! and an empty pointer per direction.

use brokkr_codec::{DecodeError, ReasonCode, TopicName};
use rustc_hash::FxHashMap;
use std::num::NonZeroU16;

/// Total bytes of topics one connection's alias map may hold, per direction.
pub const ALIAS_BYTES_MAX: usize = 1 << 20;

/// A map from aliases to topics or back, with the bytes of topics it holds.
#[derive(Debug)]
struct AliasMap<K, V> {
    map: FxHashMap<K, V>,
    bytes: usize,
}

impl<K, V> Default for AliasMap<K, V> {
    fn default() -> Self {
        AliasMap {
            map: FxHashMap::default(),
            bytes: 0,
        }
    }
}

/// Aliases a client set on its PUBLISH packets.
#[derive(Debug, Default)]
pub struct InboundAliases {
    max: u16,
    /// Allocated by the first alias defined.
    aliases: Option<Box<AliasMap<u16, TopicName>>>,
}

impl InboundAliases {
    /// A map that accepts aliases `1..=max` (the Topic Alias Maximum sent in CONNACK).
    pub fn new(max: u16) -> Self {
        InboundAliases { max, aliases: None }
    }

    /// Resolve a PUBLISH's topic: with an alias and a topic, (re)define the alias; with an alias
    /// and an empty topic, look it up. Returns the topic to route on.
    pub fn resolve(
        &mut self,
        topic: &TopicName,
        alias: Option<NonZeroU16>,
    ) -> Result<TopicName, DecodeError> {
        let Some(alias) = alias else {
            return Ok(topic.clone());
        };
        if alias.get() > self.max {
            return Err(DecodeError::protocol("topic alias above the maximum")
                .with_reason(ReasonCode::TopicAliasInvalid)
                .rule("MQTT-3.3.2-9"));
        }
        if topic.is_empty() {
            return self
                .aliases
                .as_ref()
                .and_then(|a| a.map.get(&alias.get()))
                .cloned()
                .ok_or(
                    DecodeError::protocol("unknown topic alias")
                        .with_reason(ReasonCode::ProtocolError),
                );
        }
        let a = self.aliases.get_or_insert_with(Box::default);
        let stored = topic.compact();
        let old = a.map.get(&alias.get()).map_or(0, TopicName::len);
        let bytes = a.bytes - old + stored.len();
        if bytes > ALIAS_BYTES_MAX {
            return Err(DecodeError::limit(
                ReasonCode::QuotaExceeded,
                "topic alias bytes",
            ));
        }
        a.bytes = bytes;
        a.map.insert(alias.get(), stored.clone());
        Ok(stored)
    }
}

/// How to send a topic to a client that accepts aliases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundTopic {
    /// No alias: send the topic.
    Plain,
    /// A new alias: send the topic and the alias.
    Define(NonZeroU16),
    /// A known alias: send an empty topic and the alias.
    Use(NonZeroU16),
}

/// Aliases we assign to topics we send.
#[derive(Debug, Default)]
pub struct OutboundAliases {
    max: u16,
    /// Allocated by the first alias handed out.
    aliases: Option<Box<AliasMap<TopicName, NonZeroU16>>>,
}

impl OutboundAliases {
    /// `max` = min(the client's Topic Alias Maximum, our cap); 0 disables aliases
    /// (MQTT-3.1.2-27).
    pub fn new(max: u16) -> Self {
        OutboundAliases { max, aliases: None }
    }

    /// True if the client accepts aliases (its Topic Alias Maximum is above 0).
    pub fn enabled(&self) -> bool {
        self.max > 0
    }

    /// Decide how to send `topic`. Aliases are handed out in order until `max` is reached or the
    /// byte cap would be exceeded; after that new topics go plain.
    pub fn for_topic(&mut self, topic: &TopicName) -> OutboundTopic {
        if self.max == 0 {
            return OutboundTopic::Plain;
        }
        let a = self.aliases.get_or_insert_with(Box::default);
        if let Some(&alias) = a.map.get(topic) {
            return OutboundTopic::Use(alias);
        }
        let next = a.map.len() + 1;
        let fits = next <= usize::from(self.max) && a.bytes + topic.len() <= ALIAS_BYTES_MAX;
        match u16::try_from(next)
            .ok()
            .and_then(NonZeroU16::new)
            .filter(|_| fits)
        {
            Some(alias) => {
                a.bytes += topic.len();
                a.map.insert(topic.compact(), alias);
                OutboundTopic::Define(alias)
            }
            None => OutboundTopic::Plain,
        }
    }

    /// Take back `alias`, just defined for `topic` by [`OutboundAliases::for_topic`], because
    /// the PUBLISH that defined it was not sent (too large, or dropped): the client never
    /// learned it, so the next PUBLISH on `topic` must define it again.
    pub fn undefine(&mut self, topic: &TopicName, alias: NonZeroU16) {
        // Aliases are handed out in order, so the one just defined is the highest.
        if let Some(a) = self.aliases.as_deref_mut()
            && usize::from(alias.get()) == a.map.len()
            && a.map.get(topic) == Some(&alias)
        {
            a.map.remove(topic);
            a.bytes -= topic.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TopicName {
        TopicName::new(s).unwrap()
    }

    fn a(n: u16) -> Option<NonZeroU16> {
        NonZeroU16::new(n)
    }

    #[test]
    fn inbound_define_then_use() {
        let mut m = InboundAliases::new(3);
        assert_eq!(m.resolve(&t("a/b"), a(1)).unwrap().as_str(), "a/b");
        assert_eq!(
            m.resolve(&TopicName::default(), a(1)).unwrap().as_str(),
            "a/b"
        );
        // Redefine.
        assert_eq!(m.resolve(&t("c"), a(1)).unwrap().as_str(), "c");
        assert_eq!(
            m.resolve(&TopicName::default(), a(1)).unwrap().as_str(),
            "c"
        );
        // No alias: topic as is.
        assert_eq!(m.resolve(&t("x"), None).unwrap().as_str(), "x");
    }

    #[test]
    fn mqtt_3_3_2_9_alias_above_maximum_is_refused() {
        let mut m = InboundAliases::new(3);
        let err = m.resolve(&t("a"), a(4)).unwrap_err();
        assert_eq!(err.reason, ReasonCode::TopicAliasInvalid);
        let mut none = InboundAliases::new(0);
        assert!(none.resolve(&t("a"), a(1)).is_err());
    }

    #[test]
    fn unknown_alias_is_a_protocol_error() {
        let mut m = InboundAliases::new(3);
        assert_eq!(
            m.resolve(&TopicName::default(), a(2)).unwrap_err().reason,
            ReasonCode::ProtocolError
        );
    }

    #[test]
    fn inbound_bytes_are_capped() {
        let mut m = InboundAliases::new(u16::MAX);
        let long = "x".repeat(60_000);
        let mut refused = false;
        for i in 1..=40u16 {
            if m.resolve(&t(&long), a(i)).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused, "alias map grew past its byte cap");
        assert!(m.aliases.unwrap().bytes <= ALIAS_BYTES_MAX);
    }

    #[test]
    fn mqtt_3_3_2_11_outbound_aliases_stay_within_the_client_maximum() {
        let mut m = OutboundAliases::new(2);
        assert_eq!(m.for_topic(&t("a")), OutboundTopic::Define(NonZeroU16::MIN));
        assert_eq!(m.for_topic(&t("a")), OutboundTopic::Use(NonZeroU16::MIN));
        assert!(matches!(m.for_topic(&t("b")), OutboundTopic::Define(n) if n.get() == 2));
        assert_eq!(m.for_topic(&t("c")), OutboundTopic::Plain);
        // An alias whose defining PUBLISH was not sent is defined again.
        m.undefine(&t("b"), NonZeroU16::new(2).unwrap());
        assert!(matches!(m.for_topic(&t("b")), OutboundTopic::Define(n) if n.get() == 2));
        m.undefine(&t("a"), NonZeroU16::MIN); // not the latest: kept
        assert_eq!(m.for_topic(&t("a")), OutboundTopic::Use(NonZeroU16::MIN));
        // MQTT-3.1.2-27: maximum 0 means no aliases at all.
        let mut none = OutboundAliases::new(0);
        assert_eq!(none.for_topic(&t("a")), OutboundTopic::Plain);
        assert!(!none.enabled() && m.enabled());
        assert!(none.aliases.is_none(), "nothing allocated without aliases");
    }

    #[test]
    fn maps_are_allocated_by_the_first_alias_only() {
        let mut m = InboundAliases::new(3);
        assert!(m.resolve(&t("x"), None).is_ok());
        assert!(m.resolve(&TopicName::default(), a(1)).is_err());
        assert!(m.aliases.is_none());
        m.resolve(&t("x"), a(1)).unwrap();
        assert!(m.aliases.is_some());
        assert_eq!(std::mem::size_of::<InboundAliases>(), 16);
        assert_eq!(std::mem::size_of::<OutboundAliases>(), 16);
    }
}
