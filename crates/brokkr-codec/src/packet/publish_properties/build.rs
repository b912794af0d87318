//! PUBLISH properties from typed values: the broker's own messages (wills, `$SYS`), tests and
//! generators build a [`PublishPropertiesBuilder`] and turn it into the validated block form.
//!
//! The builder is also the eager reference form: it implements the generic property-set decoder,
//! so the fuzz oracle can decode a block both ways and require that the lazy accessors agree with
//! it. Its fields hold validated types, so only sizes can make `build` fail.

use super::{PublishProperties, PublishProperty};
use crate::error::{DecodeError, EncodeError};
use crate::properties::{
    self, PayloadFormat, PropertySet, Sink, UserProperties, Value, id, not_allowed,
};
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::vbi::{VbiRead, read_vbi};
use bytes::{Buf, BytesMut};
use std::num::{NonZeroU16, NonZeroU32};

/// PUBLISH properties as typed values (MQTT 5 section 3.3.2.3); [`build`](Self::build) writes
/// them as a block in a fixed order: the order of the fields below.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct PublishPropertiesBuilder {
    pub payload_format_indicator: Option<PayloadFormat>,
    pub message_expiry_interval_secs: Option<u32>,
    pub topic_alias: Option<NonZeroU16>,
    pub response_topic: Option<TopicName>,
    pub correlation_data: Option<bytes::Bytes>,
    pub user_properties: UserProperties,
    pub subscription_identifiers: Vec<NonZeroU32>,
    pub content_type: Option<MqttString>,
}

impl PublishPropertiesBuilder {
    /// The validated block. Fails only on sizes: Correlation Data over 65,535 bytes, a
    /// Subscription Identifier or a block over 268,435,455.
    pub fn build(&self) -> Result<PublishProperties, EncodeError> {
        let total = properties::encoded_len(self)?;
        let mut buf = BytesMut::with_capacity(total);
        properties::write(self, &mut buf);
        debug_assert_eq!(buf.len(), total, "property block length");
        if let Ok(VbiRead::Value { len, .. }) = read_vbi(&buf) {
            buf.advance(len);
        }
        Ok(PublishProperties::from_written(buf.freeze()))
    }

    /// Add one property as [`PublishProperties::iter`] yields it (copies strings).
    fn push(&mut self, p: PublishProperty<'_>) {
        let string = |s: &str| {
            let v = MqttString::new(s);
            debug_assert!(v.is_ok(), "validated string refused");
            v.ok()
        };
        match p {
            PublishProperty::PayloadFormatIndicator(v) => self.payload_format_indicator = Some(v),
            PublishProperty::MessageExpiryInterval(v) => {
                self.message_expiry_interval_secs = Some(v)
            }
            PublishProperty::TopicAlias(v) => self.topic_alias = Some(v),
            PublishProperty::ResponseTopic(v) => self.response_topic = TopicName::new(v).ok(),
            PublishProperty::CorrelationData(v) => {
                self.correlation_data = Some(bytes::Bytes::copy_from_slice(v))
            }
            PublishProperty::UserProperty(k, v) => {
                if let (Some(k), Some(v)) = (string(k), string(v)) {
                    self.user_properties.push((k, v));
                }
            }
            PublishProperty::SubscriptionIdentifier(v) => self.subscription_identifiers.push(v),
            PublishProperty::ContentType(v) => self.content_type = string(v),
        }
    }
}

impl PublishProperties {
    /// Every property as owned, typed values (strings copied): for tests, oracles and for
    /// changing a received set beyond what [`PropertyEdits`](super::PropertyEdits) offers.
    pub fn to_builder(&self) -> PublishPropertiesBuilder {
        let mut b = PublishPropertiesBuilder::default();
        for p in self {
            b.push(p);
        }
        b
    }
}

impl PropertySet for PublishPropertiesBuilder {
    const REPEATABLE: u64 = 1 << id::SUBSCRIPTION_IDENTIFIER;

    fn set(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::PAYLOAD_FORMAT_INDICATOR, Value::Byte(v)) => {
                self.payload_format_indicator = Some(properties::payload_format(v)?)
            }
            (id::MESSAGE_EXPIRY_INTERVAL, Value::U32(v)) => {
                self.message_expiry_interval_secs = Some(v)
            }
            (id::TOPIC_ALIAS, Value::U16(v)) => {
                let alias = NonZeroU16::new(v).ok_or(
                    DecodeError::protocol("topic alias is 0")
                        .with_reason(crate::ReasonCode::TopicAliasInvalid)
                        .rule("MQTT-3.3.2-8"),
                )?;
                self.topic_alias = Some(alias);
            }
            (id::RESPONSE_TOPIC, Value::Str(v)) => {
                self.response_topic = Some(properties::response_topic(v)?)
            }
            (id::CORRELATION_DATA, Value::Bin(v)) => self.correlation_data = Some(v),
            (id::USER_PROPERTY, Value::Pair(k, v)) => self.user_properties.push((k, v)),
            (id::SUBSCRIPTION_IDENTIFIER, Value::Vbi(v)) => self
                .subscription_identifiers
                .push(properties::subscription_id(v)?),
            (id::CONTENT_TYPE, Value::Str(v)) => self.content_type = Some(v),
            _ => return Err(not_allowed()),
        }
        Ok(())
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = self.payload_format_indicator {
            s.byte(
                id::PAYLOAD_FORMAT_INDICATOR,
                properties::payload_format_byte(v),
            );
        }
        if let Some(v) = self.message_expiry_interval_secs {
            s.u32(id::MESSAGE_EXPIRY_INTERVAL, v);
        }
        if let Some(v) = self.topic_alias {
            s.u16(id::TOPIC_ALIAS, v.get());
        }
        if let Some(v) = &self.response_topic {
            s.str(id::RESPONSE_TOPIC, v.as_mqtt_str());
        }
        if let Some(v) = &self.correlation_data {
            s.bin(id::CORRELATION_DATA, v);
        }
        s.users(&self.user_properties);
        for v in &self.subscription_identifiers {
            s.vbi(id::SUBSCRIPTION_IDENTIFIER, v.get());
        }
        if let Some(v) = &self.content_type {
            s.str(id::CONTENT_TYPE, v);
        }
    }
}
