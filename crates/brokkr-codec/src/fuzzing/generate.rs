//! A structured generator of valid packets for every type and version, driven by
//! `arbitrary::Unstructured`: the round-trip property tests and the structured fuzz target use it.

use super::roundtrip;
use crate::packet::*;
use crate::properties::{PayloadFormat, UserProperties};
use crate::reason::{ReasonCode, ReasonContext};
use crate::string::MqttString;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{ClientId, PacketId, ProtocolVersion, QoS};
use crate::vbi::VBI_MAX;
use arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;
use std::num::{NonZeroU16, NonZeroU32};

/// Build a valid packet from `data`, encode it, decode it, and require equality.
pub fn structured_roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(version) = gen_version(&mut u) else {
        return;
    };
    let Ok(packet) = gen_packet(&mut u, version) else {
        return;
    };
    roundtrip(&packet, version);
}

/// Pick a protocol version.
pub fn gen_version(u: &mut Unstructured) -> Result<ProtocolVersion> {
    Ok(*u.choose(&ProtocolVersion::ALL)?)
}

/// Any valid packet of `version`.
pub fn gen_packet(u: &mut Unstructured, v: ProtocolVersion) -> Result<Packet> {
    let kinds: &[PacketType] = &[
        PacketType::Connect,
        PacketType::ConnAck,
        PacketType::Publish,
        PacketType::PubAck,
        PacketType::PubRec,
        PacketType::PubRel,
        PacketType::PubComp,
        PacketType::Subscribe,
        PacketType::SubAck,
        PacketType::Unsubscribe,
        PacketType::UnsubAck,
        PacketType::PingReq,
        PacketType::PingResp,
        PacketType::Disconnect,
        PacketType::Auth,
    ];
    let mut kind = *u.choose(kinds)?;
    if kind == PacketType::Auth && !v.is_v5() {
        kind = PacketType::PingReq;
    }
    gen_packet_of(u, v, kind)
}

/// A valid packet of the given type and version (AUTH only for MQTT 5).
pub fn gen_packet_of(u: &mut Unstructured, v: ProtocolVersion, kind: PacketType) -> Result<Packet> {
    Ok(match kind {
        PacketType::Connect => Packet::Connect(Box::new(gen_connect(u, v)?)),
        PacketType::ConnAck => Packet::ConnAck(gen_connack(u, v)?),
        PacketType::Publish => Packet::Publish(gen_publish(u, v)?),
        PacketType::PubAck => {
            let (packet_id, reason, properties) = gen_response(u, v, ReasonContext::PubAckRec)?;
            Packet::PubAck(PubAck {
                packet_id,
                reason,
                properties,
            })
        }
        PacketType::PubRec => {
            let (packet_id, reason, properties) = gen_response(u, v, ReasonContext::PubAckRec)?;
            Packet::PubRec(PubRec {
                packet_id,
                reason,
                properties,
            })
        }
        PacketType::PubRel => {
            let (packet_id, reason, properties) = gen_response(u, v, ReasonContext::PubRelComp)?;
            Packet::PubRel(PubRel {
                packet_id,
                reason,
                properties,
            })
        }
        PacketType::PubComp => {
            let (packet_id, reason, properties) = gen_response(u, v, ReasonContext::PubRelComp)?;
            Packet::PubComp(PubComp {
                packet_id,
                reason,
                properties,
            })
        }
        PacketType::Subscribe => Packet::Subscribe(gen_subscribe(u, v)?),
        PacketType::SubAck => Packet::SubAck(gen_suback(u, v)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(gen_unsubscribe(u, v)?),
        PacketType::UnsubAck => Packet::UnsubAck(gen_unsuback(u, v)?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(gen_disconnect(u, v)?),
        PacketType::Auth => Packet::Auth(Auth {
            reason: gen_reason(u, ReasonContext::Auth)?,
            properties: AuthProperties {
                wire_order: Default::default(),
                authentication_method: opt(u, gen_string)?,
                authentication_data: opt(u, gen_bytes)?,
                reason_string: opt(u, gen_string)?,
                user_properties: gen_users(u)?,
            },
        }),
    })
}

fn opt<T>(
    u: &mut Unstructured,
    f: impl FnOnce(&mut Unstructured) -> Result<T>,
) -> Result<Option<T>> {
    if bool::arbitrary(u)? {
        f(u).map(Some)
    } else {
        Ok(None)
    }
}

/// v5 fields get values; 3.x fields stay at their defaults.
fn v5<T: Default>(
    u: &mut Unstructured,
    v: ProtocolVersion,
    f: impl FnOnce(&mut Unstructured) -> Result<T>,
) -> Result<T> {
    if v.is_v5() { f(u) } else { Ok(T::default()) }
}

const ALPHABET: &[&str] = &[
    "a", "b", "sensor", "x", "é", "日本", "\u{FEFF}", " ", "-", "$SYS", "7",
];

/// A short valid string, mixing ASCII and multi-byte characters.
pub fn gen_string(u: &mut Unstructured) -> Result<MqttString> {
    let n = u.int_in_range(0..=6)?;
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(u.choose(ALPHABET)?);
    }
    MqttString::new(&s).map_err(|_| arbitrary::Error::IncorrectFormat)
}

fn gen_bytes(u: &mut Unstructured) -> Result<Bytes> {
    let n = u.int_in_range(0..=40)?;
    Ok(Bytes::copy_from_slice(u.bytes(n.min(u.len()))?))
}

fn gen_level(u: &mut Unstructured) -> Result<String> {
    let n = u.int_in_range(0..=3)?;
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(u.choose(&ALPHABET[..9])?);
    }
    Ok(s)
}

/// A non-empty topic name of one to five levels.
pub fn gen_topic(u: &mut Unstructured) -> Result<TopicName> {
    let levels = u.int_in_range(1..=5)?;
    let mut parts = Vec::new();
    for _ in 0..levels {
        parts.push(gen_level(u)?);
    }
    let mut s = parts.join("/");
    if s.is_empty() {
        s.push('t');
    }
    TopicName::new(&s).map_err(|_| arbitrary::Error::IncorrectFormat)
}

/// A valid topic filter, sometimes with wildcards or a share prefix.
pub fn gen_filter(u: &mut Unstructured) -> Result<TopicFilter> {
    let levels = u.int_in_range(1..=5)?;
    let mut parts = Vec::new();
    for i in 0..levels {
        let last = i + 1 == levels;
        parts.push(match u.int_in_range(0..=5)? {
            0 => "+".to_string(),
            1 if last => "#".to_string(),
            _ => gen_level(u)?,
        });
    }
    let mut s = parts.join("/");
    if s.is_empty() {
        s.push('f');
    }
    if u.ratio(1, 6)? {
        s = format!("$share/g{}/{s}", u.int_in_range(0..=9u8)?);
    }
    TopicFilter::new(&s).map_err(|_| arbitrary::Error::IncorrectFormat)
}

fn gen_users(u: &mut Unstructured) -> Result<UserProperties> {
    let n = u.int_in_range(0..=3)?;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push((gen_string(u)?, gen_string(u)?));
    }
    Ok(out)
}

fn gen_pid(u: &mut Unstructured) -> Result<PacketId> {
    PacketId::new(u.int_in_range(1..=u16::MAX)?).ok_or(arbitrary::Error::IncorrectFormat)
}

fn gen_qos(u: &mut Unstructured) -> Result<QoS> {
    Ok(*u.choose(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])?)
}

fn gen_nz16(u: &mut Unstructured) -> Result<NonZeroU16> {
    Ok(NonZeroU16::new(u.int_in_range(1..=u16::MAX)?).unwrap_or(NonZeroU16::MIN))
}

fn gen_nz32(u: &mut Unstructured, max: u32) -> Result<NonZeroU32> {
    Ok(NonZeroU32::new(u.int_in_range(1..=max)?).unwrap_or(NonZeroU32::MIN))
}

fn gen_reason(u: &mut Unstructured, ctx: ReasonContext) -> Result<ReasonCode> {
    let allowed: Vec<ReasonCode> = ReasonCode::ALL
        .iter()
        .copied()
        .filter(|c| ctx.allows(*c))
        .collect();
    Ok(*u.choose(&allowed)?)
}

fn gen_format(u: &mut Unstructured) -> Result<PayloadFormat> {
    Ok(if bool::arbitrary(u)? {
        PayloadFormat::Utf8
    } else {
        PayloadFormat::Unspecified
    })
}

fn gen_connect(u: &mut Unstructured, v: ProtocolVersion) -> Result<Connect> {
    let will = if bool::arbitrary(u)? {
        Some(Will {
            topic: gen_topic(u)?,
            payload: gen_bytes(u)?,
            qos: gen_qos(u)?,
            retain: bool::arbitrary(u)?,
            properties: v5(u, v, |u| {
                Ok(WillProperties {
                    wire_order: Default::default(),
                    will_delay_interval_secs: opt(u, any_u32)?,
                    payload_format_indicator: opt(u, gen_format)?,
                    message_expiry_interval_secs: opt(u, any_u32)?,
                    content_type: opt(u, gen_string)?,
                    response_topic: opt(u, gen_topic)?,
                    correlation_data: opt(u, gen_bytes)?,
                    user_properties: gen_users(u)?,
                })
            })?,
        })
    } else {
        None
    };
    let mut username = opt(u, gen_string)?;
    let password = opt(u, gen_bytes)?;
    if password.is_some() && username.is_none() && !v.is_v5() {
        username = Some(MqttString::default());
    }
    Ok(Connect {
        protocol: ConnectProtocol(v),
        clean_start: bool::arbitrary(u)?,
        keep_alive_secs: u16::arbitrary(u)?,
        properties: v5(u, v, |u| {
            Ok(ConnectProperties {
                wire_order: Default::default(),
                session_expiry_interval_secs: opt(u, any_u32)?,
                receive_maximum: opt(u, gen_nz16)?,
                maximum_packet_size: opt(u, |u| gen_nz32(u, u32::MAX))?,
                topic_alias_maximum: opt(u, any_u16)?,
                request_response_information: opt(u, any_bool)?,
                request_problem_information: opt(u, any_bool)?,
                user_properties: gen_users(u)?,
                authentication_method: opt(u, gen_string)?,
                authentication_data: opt(u, gen_bytes)?,
            })
        })?,
        client_id: ClientId::new(gen_string(u)?),
        will,
        username,
        password,
    })
}

fn gen_connack(u: &mut Unstructured, v: ProtocolVersion) -> Result<ConnAck> {
    let reason = if v.is_v5() {
        gen_reason(u, ReasonContext::ConnAck)?
    } else {
        *u.choose(&[
            ReasonCode::Success,
            ReasonCode::UnsupportedProtocolVersion,
            ReasonCode::ClientIdentifierNotValid,
            ReasonCode::ServerUnavailable,
            ReasonCode::BadUserNameOrPassword,
            ReasonCode::NotAuthorized,
        ])?
    };
    Ok(ConnAck {
        session_present: v != ProtocolVersion::V3_1 && bool::arbitrary(u)?,
        reason,
        properties: v5(u, v, |u| {
            Ok(ConnAckProperties {
                wire_order: Default::default(),
                session_expiry_interval_secs: opt(u, any_u32)?,
                receive_maximum: opt(u, gen_nz16)?,
                maximum_qos: opt(u, |u| Ok(*u.choose(&[QoS::AtMostOnce, QoS::AtLeastOnce])?))?,
                retain_available: opt(u, any_bool)?,
                maximum_packet_size: opt(u, |u| gen_nz32(u, u32::MAX))?,
                assigned_client_identifier: opt(u, gen_string)?,
                topic_alias_maximum: opt(u, any_u16)?,
                reason_string: opt(u, gen_string)?,
                user_properties: gen_users(u)?,
                wildcard_subscription_available: opt(u, any_bool)?,
                subscription_identifiers_available: opt(u, any_bool)?,
                shared_subscription_available: opt(u, any_bool)?,
                server_keep_alive_secs: opt(u, any_u16)?,
                response_information: opt(u, gen_string)?,
                server_reference: opt(u, gen_string)?,
                authentication_method: opt(u, gen_string)?,
                authentication_data: opt(u, gen_bytes)?,
            })
        })?,
    })
}

fn gen_publish(u: &mut Unstructured, v: ProtocolVersion) -> Result<Publish> {
    let qos = gen_qos(u)?;
    let qos_pid = QosPid::from_parts(qos, gen_pid(u)?);
    let properties = v5(u, v, |u| {
        let mut subscription_identifiers = Vec::new();
        for _ in 0..u.int_in_range(0..=2)? {
            subscription_identifiers.push(gen_nz32(u, VBI_MAX)?);
        }
        Ok(PublishPropertiesBuilder {
            payload_format_indicator: opt(u, gen_format)?,
            message_expiry_interval_secs: opt(u, any_u32)?,
            topic_alias: opt(u, gen_nz16)?,
            response_topic: opt(u, gen_topic)?,
            correlation_data: opt(u, gen_bytes)?,
            user_properties: gen_users(u)?,
            subscription_identifiers,
            content_type: opt(u, gen_string)?,
        })
    })?;
    let empty_topic = properties.topic_alias.is_some() && bool::arbitrary(u)?;
    let properties = properties
        .build()
        .map_err(|_| arbitrary::Error::IncorrectFormat)?;
    Ok(Publish {
        dup: qos != QoS::AtMostOnce && bool::arbitrary(u)?,
        qos_pid,
        retain: bool::arbitrary(u)?,
        topic: if empty_topic {
            TopicName::default()
        } else {
            gen_topic(u)?
        },
        properties,
        payload: gen_bytes(u)?,
    })
}

fn gen_response(
    u: &mut Unstructured,
    v: ProtocolVersion,
    ctx: ReasonContext,
) -> Result<(PacketId, ReasonCode, AckProperties)> {
    let packet_id = gen_pid(u)?;
    let reason = v5(u, v, |u| gen_reason(u, ctx))?;
    let properties = v5(u, v, gen_ack_props)?;
    Ok((packet_id, reason, properties))
}

fn gen_ack_props(u: &mut Unstructured) -> Result<AckProperties> {
    Ok(AckProperties {
        wire_order: Default::default(),
        reason_string: opt(u, gen_string)?,
        user_properties: gen_users(u)?,
    })
}

fn gen_subscribe(u: &mut Unstructured, v: ProtocolVersion) -> Result<Subscribe> {
    let mut filters = Vec::new();
    for _ in 0..u.int_in_range(1..=4)? {
        let filter = gen_filter(u)?;
        let mut options = SubscriptionOptions {
            qos: gen_qos(u)?,
            ..Default::default()
        };
        if v.is_v5() {
            options.no_local = filter.share().is_none() && bool::arbitrary(u)?;
            options.retain_as_published = bool::arbitrary(u)?;
            options.retain_handling = *u.choose(&[
                RetainHandling::SendAtSubscribe,
                RetainHandling::SendIfNew,
                RetainHandling::DoNotSend,
            ])?;
        }
        filters.push((filter, options));
    }
    Ok(Subscribe {
        packet_id: gen_pid(u)?,
        properties: v5(u, v, |u| {
            Ok(SubscribeProperties {
                wire_order: Default::default(),
                subscription_identifier: opt(u, |u| gen_nz32(u, VBI_MAX))?,
                user_properties: gen_users(u)?,
            })
        })?,
        filters,
    })
}

fn gen_suback(u: &mut Unstructured, v: ProtocolVersion) -> Result<SubAck> {
    let mut reasons = Vec::new();
    for _ in 0..u.int_in_range(1..=4)? {
        reasons.push(if v.is_v5() {
            gen_reason(u, ReasonContext::SubAck)?
        } else {
            *u.choose(&[
                ReasonCode::Success,
                ReasonCode::GrantedQos1,
                ReasonCode::GrantedQos2,
                ReasonCode::UnspecifiedError,
            ])?
        });
    }
    Ok(SubAck {
        packet_id: gen_pid(u)?,
        properties: v5(u, v, gen_ack_props)?,
        reasons,
    })
}

fn gen_unsubscribe(u: &mut Unstructured, v: ProtocolVersion) -> Result<Unsubscribe> {
    let mut filters = Vec::new();
    for _ in 0..u.int_in_range(1..=4)? {
        filters.push(gen_filter(u)?);
    }
    Ok(Unsubscribe {
        packet_id: gen_pid(u)?,
        properties: v5(u, v, |u| {
            Ok(UnsubscribeProperties {
                wire_order: Default::default(),
                user_properties: gen_users(u)?,
            })
        })?,
        filters,
    })
}

fn gen_unsuback(u: &mut Unstructured, v: ProtocolVersion) -> Result<UnsubAck> {
    let mut reasons = Vec::new();
    if v.is_v5() {
        for _ in 0..u.int_in_range(1..=4)? {
            reasons.push(gen_reason(u, ReasonContext::UnsubAck)?);
        }
    }
    Ok(UnsubAck {
        packet_id: gen_pid(u)?,
        properties: v5(u, v, gen_ack_props)?,
        reasons,
    })
}

fn gen_disconnect(u: &mut Unstructured, v: ProtocolVersion) -> Result<Disconnect> {
    Ok(Disconnect {
        reason: v5(u, v, |u| gen_reason(u, ReasonContext::Disconnect))?,
        properties: v5(u, v, |u| {
            Ok(DisconnectProperties {
                wire_order: Default::default(),
                session_expiry_interval_secs: opt(u, any_u32)?,
                reason_string: opt(u, gen_string)?,
                user_properties: gen_users(u)?,
                server_reference: opt(u, gen_string)?,
            })
        })?,
    })
}

fn any_u32(u: &mut Unstructured) -> Result<u32> {
    u32::arbitrary(u)
}

fn any_u16(u: &mut Unstructured) -> Result<u16> {
    u16::arbitrary(u)
}

fn any_bool(u: &mut Unstructured) -> Result<bool> {
    bool::arbitrary(u)
}
