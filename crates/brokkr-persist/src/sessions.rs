//! `sessions.db`: persistent sessions with their subscriptions, QoS state and pending will.
//!
//! ```text
//! body         := count:u32 session*
//! session      := client_id:str16 username:opt_str16 version:u8(3|4|5) expiry_secs:u32(>0)
//!                 offline_for_ms:u64 last_packet_id:u16
//!                 count:u32 subscription*  count:u32 inbound_id:u16*  (increasing, non-zero)
//!                 count:u32 in_flight*     count:u32 delivery*        will:opt
//! subscription := filter:str16 options:u8 [subscription_id:u32]
//!                 options bits: 0-1 QoS, 2 No Local, 3 Retain As Published, 4 id present
//! in_flight    := packet_id:u16(non-zero, distinct) kind:u8 (0 PUBREL sent | 1 PUBLISH sent
//!                 followed by a delivery)
//! delivery     := flags:u8 [subscription_id:u32] [boot:u64 seq:u64(non-zero)] age_ms:u64
//!                 publish_len:u32 publish
//!                 flags bits: 0-1 QoS (1|2, at most the message's), 2 RETAIN, 3 subscription
//!                 id present, 4 journal id present (the journaled message it carries)
//! will         := 0 | 1 delay_ms:u64 publish_len:u32 publish
//! str16        := len:u16 UTF-8 (MQTT string rules)     opt_str16 := 0 | 1 str16
//! ```

use crate::PersistError;
use crate::frame::{Kind, frame, unframe};
use crate::publish::{read_message, read_will, write_message, write_will};
use crate::reader::Reader;
use brokkr_codec::{MqttString, PacketId, ProtocolVersion, QoS, TopicFilter};
use brokkr_core::journal::JournalId;
use brokkr_core::shard::SubOptions;
use brokkr_core::snapshot::{DeliverySnapshot, InFlightSnapshot, SessionSnapshot, WillSnapshot};
use std::num::{NonZeroU32, NonZeroU64};

/// Largest Subscription Identifier (MQTT 5 section 3.8.2.1.2: 1 to 268,435,455).
const SUBSCRIPTION_ID_MAX: u32 = 268_435_455;

/// A decoded `sessions.db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionsFile {
    /// When it was saved: wall-clock milliseconds since 1970, as the caller gave it.
    pub saved_at_ms: u64,
    /// The sessions, times as of `saved_at_ms`.
    pub sessions: Vec<SessionSnapshot>,
}

/// The bytes of a `sessions.db` saved at `saved_at_ms` (wall clock, milliseconds since 1970).
pub fn encode_sessions(
    saved_at_ms: u64,
    sessions: &[SessionSnapshot],
) -> Result<Vec<u8>, PersistError> {
    let mut body = Vec::new();
    put_count(&mut body, sessions.len())?;
    for s in sessions {
        write_session(&mut body, s)?;
    }
    Ok(frame(Kind::Sessions, saved_at_ms, &body))
}

/// Decode a `sessions.db`, treating it as untrusted: any fault is an error, never a panic, and
/// nothing is allocated for a record before its bytes are present.
pub fn decode_sessions(bytes: &[u8]) -> Result<SessionsFile, PersistError> {
    let (saved_at_ms, body) = unframe(Kind::Sessions, bytes)?;
    let mut r = Reader::new(body);
    let count = r.u32()?;
    let mut sessions = Vec::new();
    for _ in 0..count {
        sessions.push(read_session(&mut r)?);
    }
    r.finish()?;
    Ok(SessionsFile {
        saved_at_ms,
        sessions,
    })
}

fn put_count(out: &mut Vec<u8>, n: usize) -> Result<(), PersistError> {
    let n = u32::try_from(n).map_err(|_| PersistError::Unencodable("count over 2^32"))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

pub(crate) fn put_str16(out: &mut Vec<u8>, s: &str) -> Result<(), PersistError> {
    let n = u16::try_from(s.len()).map_err(|_| PersistError::Unencodable("string over 65535"))?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn write_session(out: &mut Vec<u8>, s: &SessionSnapshot) -> Result<(), PersistError> {
    put_str16(out, &s.client_id)?;
    match &s.username {
        Some(u) => {
            out.push(1);
            put_str16(out, u)?;
        }
        None => out.push(0),
    }
    out.push(s.version.level());
    out.extend_from_slice(&s.expiry_secs.to_be_bytes());
    out.extend_from_slice(&s.offline_for_ms.to_be_bytes());
    out.extend_from_slice(&s.last_packet_id.to_be_bytes());
    put_count(out, s.subscriptions.len())?;
    for (filter, opts) in &s.subscriptions {
        put_str16(out, filter.as_str())?;
        write_options(out, opts);
    }
    put_count(out, s.inbound_qos2.len())?;
    for id in &s.inbound_qos2 {
        out.extend_from_slice(&id.get().to_be_bytes());
    }
    put_count(out, s.in_flight.len())?;
    for f in &s.in_flight {
        out.extend_from_slice(&f.packet_id().get().to_be_bytes());
        match f {
            InFlightSnapshot::PubRel(_) => out.push(0),
            InFlightSnapshot::Publish(_, d) => {
                out.push(1);
                write_delivery(out, d)?;
            }
        }
    }
    put_count(out, s.queued.len())?;
    for d in &s.queued {
        write_delivery(out, d)?;
    }
    match &s.will {
        Some(w) => {
            out.push(1);
            out.extend_from_slice(&w.delay_ms.to_be_bytes());
            write_will(out, &w.will)?;
        }
        None => out.push(0),
    }
    Ok(())
}

fn write_delivery(out: &mut Vec<u8>, d: &DeliverySnapshot) -> Result<(), PersistError> {
    let flags = d.qos.as_u8()
        | u8::from(d.retain) << 2
        | u8::from(d.subscription_id.is_some()) << 3
        | u8::from(d.journal.is_some()) << 4;
    out.push(flags);
    if let Some(id) = d.subscription_id {
        out.extend_from_slice(&id.get().to_be_bytes());
    }
    if let Some(id) = d.journal {
        out.extend_from_slice(&id.boot.to_be_bytes());
        out.extend_from_slice(&id.seq.get().to_be_bytes());
    }
    out.extend_from_slice(&d.age_ms.to_be_bytes());
    write_message(out, &d.message)
}

pub(crate) fn read_mqtt_str(r: &mut Reader<'_>) -> Result<String, PersistError> {
    let s = r.str16()?;
    MqttString::new(s).map_err(PersistError::Packet)?;
    Ok(s.to_string())
}

fn read_subscription_id(r: &mut Reader<'_>) -> Result<NonZeroU32, PersistError> {
    NonZeroU32::new(r.u32()?)
        .filter(|id| id.get() <= SUBSCRIPTION_ID_MAX)
        .ok_or(PersistError::Invalid(
            "subscription identifier out of range",
        ))
}

fn read_packet_id(r: &mut Reader<'_>) -> Result<PacketId, PersistError> {
    PacketId::new(r.u16()?).ok_or(PersistError::Invalid("packet identifier 0"))
}

/// A protocol level byte (3, 4 or 5).
pub(crate) fn read_version(r: &mut Reader<'_>) -> Result<ProtocolVersion, PersistError> {
    match r.u8()? {
        3 => Ok(ProtocolVersion::V3_1),
        4 => Ok(ProtocolVersion::V3_1_1),
        5 => Ok(ProtocolVersion::V5),
        _ => Err(PersistError::Invalid("protocol version")),
    }
}

fn read_session(r: &mut Reader<'_>) -> Result<SessionSnapshot, PersistError> {
    let client_id = read_mqtt_str(r)?;
    if client_id.is_empty() {
        return Err(PersistError::Invalid("empty client id"));
    }
    let username = if r.flag()? {
        Some(read_mqtt_str(r)?)
    } else {
        None
    };
    let version = read_version(r)?;
    let expiry_secs = r.u32()?;
    if expiry_secs == 0 {
        return Err(PersistError::Invalid(
            "session expiry 0 (such sessions are not saved)",
        ));
    }
    let offline_for_ms = r.u64()?;
    let last_packet_id = r.u16()?;
    let subscriptions = read_subscriptions(r)?;
    let inbound_qos2 = read_inbound(r)?;
    let in_flight = read_in_flight(r)?;
    let mut queued = Vec::new();
    for _ in 0..r.u32()? {
        queued.push(read_delivery(r)?);
    }
    let will = if r.flag()? {
        let delay_ms = r.u64()?;
        Some(WillSnapshot {
            delay_ms,
            will: read_will(r)?,
        })
    } else {
        None
    };
    Ok(SessionSnapshot {
        client_id,
        username,
        version,
        expiry_secs,
        offline_for_ms,
        subscriptions,
        in_flight,
        queued,
        inbound_qos2,
        last_packet_id,
        will,
    })
}

/// A subscription's options: `flags:u8 [subscription_id:u32]`.
pub(crate) fn write_options(out: &mut Vec<u8>, opts: &SubOptions) {
    let flags = opts.qos.as_u8()
        | u8::from(opts.no_local) << 2
        | u8::from(opts.retain_as_published) << 3
        | u8::from(opts.subscription_id.is_some()) << 4;
    out.push(flags);
    if let Some(id) = opts.subscription_id {
        out.extend_from_slice(&id.get().to_be_bytes());
    }
}

/// A topic filter stored as a `str16`.
pub(crate) fn read_filter(r: &mut Reader<'_>) -> Result<TopicFilter, PersistError> {
    TopicFilter::new(r.str16()?).map_err(PersistError::Packet)
}

fn read_subscriptions(r: &mut Reader<'_>) -> Result<Vec<(TopicFilter, SubOptions)>, PersistError> {
    let mut subscriptions = Vec::new();
    for _ in 0..r.u32()? {
        let filter = read_filter(r)?;
        subscriptions.push((filter, read_options(r)?));
    }
    Ok(subscriptions)
}

/// The options [`write_options`] wrote.
pub(crate) fn read_options(r: &mut Reader<'_>) -> Result<SubOptions, PersistError> {
    let flags = r.u8()?;
    if flags & 0xe0 != 0 {
        return Err(PersistError::Invalid("subscription option bits"));
    }
    let qos = QoS::from_u8(flags & 3).ok_or(PersistError::Invalid("subscription QoS"))?;
    let subscription_id = if flags & 0x10 != 0 {
        Some(read_subscription_id(r)?)
    } else {
        None
    };
    Ok(SubOptions {
        qos,
        no_local: flags & 4 != 0,
        retain_as_published: flags & 8 != 0,
        subscription_id,
    })
}

fn read_inbound(r: &mut Reader<'_>) -> Result<Vec<PacketId>, PersistError> {
    let mut ids: Vec<PacketId> = Vec::new();
    for _ in 0..r.u32()? {
        let id = read_packet_id(r)?;
        if ids.last().is_some_and(|&last| last >= id) {
            return Err(PersistError::Invalid("inbound QoS 2 ids not increasing"));
        }
        ids.push(id);
    }
    Ok(ids)
}

fn read_in_flight(r: &mut Reader<'_>) -> Result<Vec<InFlightSnapshot>, PersistError> {
    let mut in_flight = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..r.u32()? {
        let id = read_packet_id(r)?;
        if !seen.insert(id) {
            return Err(PersistError::Invalid("packet identifier in flight twice"));
        }
        let f = match r.u8()? {
            0 => InFlightSnapshot::PubRel(id),
            1 => InFlightSnapshot::Publish(id, read_delivery(r)?),
            _ => return Err(PersistError::Invalid("in-flight kind")),
        };
        in_flight.push(f);
    }
    Ok(in_flight)
}

fn read_delivery(r: &mut Reader<'_>) -> Result<DeliverySnapshot, PersistError> {
    let flags = r.u8()?;
    if flags & 0xe0 != 0 {
        return Err(PersistError::Invalid("delivery flag bits"));
    }
    let qos = match flags & 3 {
        1 => QoS::AtLeastOnce,
        2 => QoS::ExactlyOnce,
        _ => {
            return Err(PersistError::Invalid(
                "delivery QoS (only 1 and 2 are kept)",
            ));
        }
    };
    let subscription_id = if flags & 8 != 0 {
        Some(read_subscription_id(r)?)
    } else {
        None
    };
    let journal = if flags & 0x10 != 0 {
        Some(read_journal_id(r)?)
    } else {
        None
    };
    let age_ms = r.u64()?;
    let message = read_message(r)?;
    if qos > message.qos {
        return Err(PersistError::Invalid("delivery QoS above the message's"));
    }
    Ok(DeliverySnapshot {
        message,
        age_ms,
        qos,
        retain: flags & 4 != 0,
        subscription_id,
        journal,
    })
}

/// A journal id: `boot:u64 seq:u64`, the sequence number non-zero.
pub(crate) fn read_journal_id(r: &mut Reader<'_>) -> Result<JournalId, PersistError> {
    let boot = r.u64()?;
    let seq = NonZeroU64::new(r.u64()?).ok_or(PersistError::Invalid("journal sequence 0"))?;
    Ok(JournalId { boot, seq })
}
