//! `brokkr --fuzz-file FILE`: run one file's bytes through the input path and exit.
//!
//! The file is what one client sends. The transport is chosen by the file's content, never its
//! name (AFL renames files): a PROXY protocol header, a websocket upgrade request, a TLS
//! ClientHello (decrypted by the deterministic fuzz server of `fuzz_tls.rs`), or a leading
//! selector byte. A first byte whose high nibble is 0 is never a valid MQTT packet, so those
//! sixteen values select a harness:
//!
//! | byte | harness |
//! |---|---|
//! | 0x00 | framer alone, cap from the next byte |
//! | 0x01 | websocket frames of an already upgraded connection, then MQTT |
//! | 0x02, 0x03, 0x04 | a packet stream decoded as MQTT 3.1, 3.1.1, 5.0 (no CONNECT needed) |
//! | 0x05 | one MQTT 5 property block, as every packet type |
//! | 0x06 | topic name and filter validation against a naive implementation |
//! | 0x07 | a multi-client script against the broker (`fuzz_shard::run_script`) |
//! | other | the rest of the file as a plain MQTT connection |
//!
//! A plain connection runs twice: through the codec alone (framing, decoding, validation, the
//! re-encode oracle: every decoded packet encodes and decodes back to itself), and through the
//! production broker [`brokkr_core::shard::Shard`] with two `#` sink subscribers whose every
//! received byte must decode (`fuzz_shard.rs`). A panic or a failed
//! assertion aborts the process, which is the crash AFL looks for; rejected input is handled and
//! exits 0.

use brokkr_codec::fuzzing;
use brokkr_codec::{DecodeError, Packet, PacketType, ProtocolVersion, framer};
use bytes::BytesMut;
use std::io::Read;
use std::path::Path;

/// The most bytes of a fuzz file we read (AFL runs with `-m 200`; inputs are small).
pub const FUZZ_FILE_BYTES_MAX: u64 = 4 << 20;
/// Packet size cap before CONNECT has been accepted (as the broker will use).
pub const PRE_AUTH_PACKET_BYTES_MAX: usize = 1 << 20;
/// Packet size cap after CONNECT.
pub const PACKET_BYTES_MAX: usize = 16 << 20;

/// Read `path` (at most [`FUZZ_FILE_BYTES_MAX`] bytes) and run it. Abort on any panic.
pub fn run_file(path: &Path) -> std::io::Result<()> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        std::process::abort();
    }));
    let mut data = Vec::new();
    std::fs::File::open(path)?
        .take(FUZZ_FILE_BYTES_MAX)
        .read_to_end(&mut data)?;
    run_input(&data);
    Ok(())
}

/// Which harness a file selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A PROXY protocol v1 or v2 header, then the connection's bytes.
    Proxy,
    /// An HTTP websocket upgrade request, then websocket frames.
    WebsocketHandshake,
    /// A TLS handshake record holding a ClientHello: a TLS session to the fuzz server.
    Tls,
    /// Selector 0x01: websocket frames without the handshake.
    WebsocketUpgraded,
    /// Selector 0x00.
    Framer,
    /// Selectors 0x02-0x04.
    Stream(ProtocolVersion),
    /// Selector 0x05.
    Properties,
    /// Selector 0x06.
    Topic,
    /// Selector 0x07.
    Script,
    /// Anything else: a plain MQTT connection.
    Mqtt,
}

const PROXY_V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// Pick the harness from the content, and return the bytes it consumes.
pub fn select(data: &[u8]) -> (Transport, &[u8]) {
    if data.starts_with(PROXY_V2_SIGNATURE) || data.starts_with(b"PROXY ") {
        return (Transport::Proxy, data);
    }
    if data.starts_with(b"GET ") {
        return (Transport::WebsocketHandshake, data);
    }
    if crate::fuzz_tls::looks_like_client_hello(data) {
        return (Transport::Tls, data);
    }
    match data.split_first() {
        Some((&selector, rest)) if selector >> 4 == 0 => {
            let transport = match selector {
                0x00 => Transport::Framer,
                0x01 => Transport::WebsocketUpgraded,
                0x02 => Transport::Stream(ProtocolVersion::V3_1),
                0x03 => Transport::Stream(ProtocolVersion::V3_1_1),
                0x04 => Transport::Stream(ProtocolVersion::V5),
                0x05 => Transport::Properties,
                0x06 => Transport::Topic,
                0x07 => Transport::Script,
                _ => Transport::Mqtt,
            };
            (transport, rest)
        }
        _ => (Transport::Mqtt, data),
    }
}

/// Run one input through the harness its content selects. Returns what happened, for tests.
pub fn run_input(data: &[u8]) -> Outcome {
    let (transport, bytes) = select(data);
    match transport {
        Transport::Framer => {
            fuzzing::frame(bytes);
            Outcome::default()
        }
        Transport::Stream(version) => Outcome {
            packets: fuzzing::decode_stream(bytes, version),
            ..Default::default()
        },
        Transport::Properties => {
            fuzzing::property_block(bytes);
            Outcome::default()
        }
        Transport::Script => {
            let (delivered, handoffs) = crate::fuzz_shard::run_script(bytes);
            Outcome {
                delivered,
                handoffs,
                ..Default::default()
            }
        }
        Transport::Topic => {
            fuzzing::topic(bytes);
            Outcome::default()
        }
        Transport::Mqtt => mqtt_connection(bytes),
        Transport::Tls => crate::fuzz_tls::run(bytes),
        Transport::Proxy | Transport::WebsocketHandshake | Transport::WebsocketUpgraded => {
            crate::fuzz_transport::run(transport, bytes)
        }
    }
}

/// What one connection's bytes produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Packets decoded (and checked by the re-encode oracle).
    pub packets: usize,
    /// The protocol the CONNECT asked for, if one was accepted.
    pub version: Option<ProtocolVersion>,
    /// Why the connection would be closed, if it would.
    pub error: Option<DecodeError>,
    /// PUBLISH packets the broker delivered to the two `#` sink subscribers.
    pub delivered: usize,
    /// Connections handed from one shard to the other (multi-client scripts).
    pub handoffs: usize,
}

/// A plain MQTT connection: the first packet must be CONNECT (MQTT-3.1.0-1), which fixes the
/// protocol version for the rest; decoding stops at the first error, as the broker closes the
/// connection there. The same bytes fed in small chunks must give the same packets.
pub fn mqtt_connection(bytes: &[u8]) -> Outcome {
    let whole = connection_packets(bytes, bytes.len().max(1));
    let chunk = 1 + bytes.len() % 7;
    let chunked = connection_packets(bytes, chunk);
    assert_eq!(whole, chunked, "framing depends on how the bytes arrived");
    let (packets, mut outcome) = whole;
    debug_assert_eq!(packets.len(), outcome.packets);
    outcome.delivered = crate::fuzz_shard::run(bytes, chunk);
    outcome
}

fn connection_packets(bytes: &[u8], chunk: usize) -> (Vec<Packet>, Outcome) {
    let mut buf = BytesMut::new();
    let mut packets = Vec::new();
    let mut outcome = Outcome::default();
    for piece in bytes.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            let cap = if outcome.version.is_some() {
                PACKET_BYTES_MAX
            } else {
                PRE_AUTH_PACKET_BYTES_MAX
            };
            match next(&mut buf, cap, outcome.version) {
                Ok(None) => break,
                Ok(Some(packet)) => {
                    if let Packet::Connect(c) = &packet {
                        outcome.version = Some(c.protocol.0);
                    }
                    let version = outcome.version.unwrap_or(ProtocolVersion::V3_1_1);
                    fuzzing::check_reencode(&packet, version);
                    packets.push(packet);
                    outcome.packets += 1;
                }
                Err(e) => {
                    outcome.error = Some(e);
                    return (packets, outcome);
                }
            }
        }
    }
    (packets, outcome)
}

fn next(
    buf: &mut BytesMut,
    cap: usize,
    version: Option<ProtocolVersion>,
) -> Result<Option<Packet>, DecodeError> {
    let Some(raw) = framer::next_packet(buf, cap)? else {
        return Ok(None);
    };
    let is_connect = raw.first_byte >> 4 == PacketType::Connect as u8;
    match version {
        None if !is_connect => {
            Err(DecodeError::protocol("first packet is not CONNECT").rule("MQTT-3.1.0-1"))
        }
        Some(_) if is_connect => Err(DecodeError::protocol("second CONNECT").rule("MQTT-3.1.0-2")),
        _ => Packet::decode(raw, version.unwrap_or(ProtocolVersion::V3_1_1)).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_is_by_content() {
        assert_eq!(
            select(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n").0,
            Transport::Proxy
        );
        assert_eq!(select(b"\r\n\r\n\0\r\nQUIT\n\x21").0, Transport::Proxy);
        assert_eq!(
            select(b"GET /mqtt HTTP/1.1\r\n").0,
            Transport::WebsocketHandshake
        );
        assert_eq!(
            select(&[0x04, 0xC0, 0x00]).0,
            Transport::Stream(ProtocolVersion::V5)
        );
        assert_eq!(
            select(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0, 0, 1, 3]).0,
            Transport::Tls
        );
        // A handshake record that is not a ClientHello, or an SSL 3.0 one, is not TLS.
        assert_eq!(
            select(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x02]).0,
            Transport::Mqtt
        );
        assert_eq!(
            select(&[0x16, 0x03, 0x00, 0x00, 0x05, 0x01]).0,
            Transport::Mqtt
        );
        assert_eq!(select(&[0x10, 0x00]).0, Transport::Mqtt);
        assert_eq!(select(&[]).0, Transport::Mqtt);
    }

    #[test]
    fn a_connection_must_start_with_connect() {
        let out = mqtt_connection(&[0xC0, 0x00]);
        assert_eq!(out.error.and_then(|e| e.rule), Some("MQTT-3.1.0-1"));
        let connect = [
            0x10, 0x0D, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 1, b'c',
        ];
        let mut twice = connect.to_vec();
        twice.extend_from_slice(&[0xC0, 0x00]);
        twice.extend_from_slice(&connect);
        let out = mqtt_connection(&twice);
        assert_eq!(out.packets, 2);
        assert_eq!(out.version, Some(ProtocolVersion::V3_1_1));
        assert_eq!(out.error.and_then(|e| e.rule), Some("MQTT-3.1.0-2"));
    }
}
