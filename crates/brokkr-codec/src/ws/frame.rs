//! Websocket frames (RFC 6455 section 5): incremental decoding of client frames, and encoding.
//!
//! This module owns the frame header format, the payload cap, unmasking, the control-frame rules
//! and the fragmentation state of one connection ([`Deframer`]). It yields the payload of binary
//! and continuation frames in order, as MQTT treats them as one byte stream. On output it writes
//! unmasked server frames in the shortest length form, and masked client frames for test clients
//! and fuzz seeds. It never reads or writes a socket, never waits for (or lets the caller buffer)
//! a payload longer than `frame_payload_bytes_max`, never accepts a text frame (MQTT-6.0.0-1),
//! never answers a ping itself (the caller encodes the pong), never chooses a masking key (that
//! needs randomness, which the caller owns) and never fragments its output.

use super::WsLimits;
use super::error::{WsEncodeError, WsError};
use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};

/// Largest payload of a control frame (RFC 6455 section 5.5).
pub const CONTROL_PAYLOAD_BYTES_MAX: u8 = 125;

/// A websocket frame opcode this server knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Opcode {
    /// 0x0: the next fragment of a fragmented message.
    Continuation,
    /// 0x1: UTF-8 text; refused by MQTT brokers (MQTT-6.0.0-1).
    Text,
    /// 0x2: binary data, which carries MQTT.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl Opcode {
    /// The opcode for the low nibble `value`, or `None` for a reserved one.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0x0 => Some(Self::Continuation),
            0x1 => Some(Self::Text),
            0x2 => Some(Self::Binary),
            0x8 => Some(Self::Close),
            0x9 => Some(Self::Ping),
            0xA => Some(Self::Pong),
            _ => None,
        }
    }

    /// The wire value (low nibble of the first header byte).
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Close, ping and pong are control frames.
    pub const fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// What one decoded frame means to the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// Payload of a binary or continuation frame: the next bytes of the MQTT stream.
    Data(Bytes),
    /// A ping; the caller answers with a pong carrying the same bytes.
    Ping(Bytes),
    /// A pong (unsolicited ones are allowed and ignored).
    Pong,
    /// A close frame: the peer is going away.
    Close {
        /// The status code, if the frame carried one.
        code: Option<u16>,
        /// The UTF-8 reason text after the code (may be empty).
        reason: Bytes,
    },
}

/// A parsed frame header, validated against the limits.
#[derive(Debug, Clone, Copy)]
struct FrameHeader {
    fin: bool,
    opcode: Opcode,
    mask: Option<[u8; 4]>,
    payload_len: usize,
    header_len: usize,
}

/// The decoding state of one websocket connection.
#[derive(Debug, Clone)]
pub struct Deframer {
    payload_bytes_max: u64,
    require_mask: bool,
    /// A binary message was started with FIN clear and has not been finished.
    fragmented: bool,
    /// The first error; once set, every call returns it.
    failed: Option<WsError>,
}

impl Deframer {
    /// A deframer at the start of a connection, with the frame bounds of `limits`.
    pub fn new(limits: &WsLimits) -> Self {
        Self {
            payload_bytes_max: limits.frame_payload_bytes_max,
            require_mask: limits.require_mask,
            fragmented: false,
            failed: None,
        }
    }

    /// True while a fragmented binary message is open (a continuation frame is expected).
    pub fn in_fragmented_message(&self) -> bool {
        self.fragmented
    }

    /// Decodes the next frame at the start of `buf`, removing it from `buf`.
    ///
    /// `Ok(None)` means more bytes are needed; nothing was removed. The header is checked as soon
    /// as it is complete, so an oversized or forbidden frame is refused before its body arrives.
    /// After an error the connection must be closed; later calls return the same error.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<WsEvent>, WsError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let result = self.decode(buf);
        if let Err(error) = result {
            self.failed = Some(error);
        }
        result
    }

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<WsEvent>, WsError> {
        let Some(header) = self.parse_header(buf)? else {
            return Ok(None);
        };
        self.check_sequence(&header)?;
        let frame_len =
            header
                .header_len
                .checked_add(header.payload_len)
                .ok_or(WsError::PayloadTooLarge {
                    len_bytes: u64::MAX,
                    max_bytes: self.payload_bytes_max,
                })?;
        if buf.len() < frame_len {
            return Ok(None);
        }
        buf.advance(header.header_len);
        let mut payload = buf.split_to(header.payload_len);
        if let Some(mask) = header.mask {
            unmask(&mut payload, mask);
        }
        let event = match header.opcode {
            Opcode::Binary | Opcode::Continuation => {
                self.fragmented = !header.fin;
                WsEvent::Data(payload.freeze())
            }
            Opcode::Ping => WsEvent::Ping(payload.freeze()),
            Opcode::Pong => WsEvent::Pong,
            Opcode::Close => close_event(payload.freeze())?,
            Opcode::Text => return Err(WsError::TextFrame),
        };
        Ok(Some(event))
    }

    /// Parses and validates the header at the start of `buf`; `None` if it is not complete.
    /// Checks run in the order the bytes arrive, so every split of the input gives the same error.
    fn parse_header(&self, buf: &[u8]) -> Result<Option<FrameHeader>, WsError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        if first & 0x70 != 0 {
            return Err(WsError::ReservedBitsSet);
        }
        let fin = first & 0x80 != 0;
        let opcode = Opcode::from_u8(first & 0x0F).ok_or(WsError::UnknownOpcode(first & 0x0F))?;
        if opcode == Opcode::Text {
            return Err(WsError::TextFrame);
        }
        if opcode.is_control() && !fin {
            return Err(WsError::ControlFragmented);
        }
        let Some(&second) = buf.get(1) else {
            return Ok(None);
        };
        let masked = second & 0x80 != 0;
        if self.require_mask && !masked {
            return Err(WsError::UnmaskedFrame);
        }
        let rest = buf.get(2..).unwrap_or_default();
        let (payload_len, rest, ext_len) = match second & 0x7F {
            126 => match rest.split_first_chunk::<2>() {
                Some((ext, rest)) => (u64::from(u16::from_be_bytes(*ext)), rest, 2),
                None => return Ok(None),
            },
            127 => match rest.split_first_chunk::<8>() {
                Some((ext, rest)) => (u64::from_be_bytes(*ext), rest, 8),
                None => return Ok(None),
            },
            short => (u64::from(short), rest, 0),
        };
        let payload_len = self.check_len(opcode, payload_len)?;
        let (mask, mask_len) = match (masked, rest.first_chunk::<4>()) {
            (false, _) => (None, 0),
            (true, Some(mask)) => (Some(*mask), 4),
            (true, None) => return Ok(None),
        };
        let header_len = 2 + ext_len + mask_len;
        Ok(Some(FrameHeader {
            fin,
            opcode,
            mask,
            payload_len,
            header_len,
        }))
    }

    /// Applies the 64-bit top-bit rule, the control-frame bound and the configured payload cap.
    fn check_len(&self, opcode: Opcode, len_bytes: u64) -> Result<usize, WsError> {
        if len_bytes & (1 << 63) != 0 {
            return Err(WsError::LengthTopBitSet);
        }
        if opcode.is_control() && len_bytes > u64::from(CONTROL_PAYLOAD_BYTES_MAX) {
            return Err(WsError::ControlTooLong { len_bytes });
        }
        let too_large = WsError::PayloadTooLarge {
            len_bytes,
            max_bytes: self.payload_bytes_max,
        };
        if len_bytes > self.payload_bytes_max {
            return Err(too_large);
        }
        usize::try_from(len_bytes).map_err(|_| too_large)
    }

    /// Applies the fragmentation rules (RFC 6455 section 5.4) without changing any state, so a
    /// frame whose body has not arrived yet is judged the same way on the next call.
    fn check_sequence(&self, header: &FrameHeader) -> Result<(), WsError> {
        match (header.opcode, self.fragmented) {
            (Opcode::Continuation, false) => Err(WsError::ContinuationWithoutStart),
            (Opcode::Binary | Opcode::Text, true) => Err(WsError::MessageInsideFragmented),
            _ => Ok(()),
        }
    }
}

/// XORs `payload` with the 4-byte masking key, in place (RFC 6455 section 5.3).
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (byte, key) in payload.iter_mut().zip(mask.iter().cycle()) {
        *byte ^= key;
    }
}

/// Splits a close payload into its status code and reason, validating both.
fn close_event(mut payload: Bytes) -> Result<WsEvent, WsError> {
    let Some((code_bytes, _)) = payload.split_first_chunk::<2>() else {
        return if payload.is_empty() {
            Ok(WsEvent::Close {
                code: None,
                reason: Bytes::new(),
            })
        } else {
            Err(WsError::CloseOneBytePayload)
        };
    };
    let code = u16::from_be_bytes(*code_bytes);
    if !close_code_allowed(code) {
        return Err(WsError::BadCloseCode(code));
    }
    payload.advance(2);
    if std::str::from_utf8(&payload).is_err() {
        return Err(WsError::CloseReasonNotUtf8);
    }
    Ok(WsEvent::Close {
        code: Some(code),
        reason: payload,
    })
}

/// Close codes a peer may send (RFC 6455 section 7.4 and the IANA registry): 1000-1003,
/// 1007-1014, and the 3000-4999 ranges for libraries and applications.
const fn close_code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Longest frame header: 2 bytes, an 8-byte extended length and a 4-byte mask.
pub const FRAME_HEADER_BYTES_MAX: usize = 14;

/// Appends one frame, with every header field chosen by the caller, and without validation: this
/// can build invalid frames on purpose (fragmented control frames, text frames) for tests.
///
/// With `mask` set the frame is a client frame: the mask bit is set and the payload XORed.
pub fn encode_frame_with(
    fin: bool,
    opcode: Opcode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
    out: &mut BytesMut,
) {
    let fin_bit = if fin { 0x80 } else { 0x00 };
    let mask_bit = if mask.is_some() { 0x80 } else { 0x00 };
    out.reserve(FRAME_HEADER_BYTES_MAX.saturating_add(payload.len()));
    out.put_u8(fin_bit | opcode.as_u8());
    let len = payload.len();
    match (u8::try_from(len), u16::try_from(len)) {
        (Ok(short @ 0..=125), _) => out.put_u8(mask_bit | short),
        (_, Ok(medium)) => {
            out.put_u8(mask_bit | 126);
            out.put_u16(medium);
        }
        _ => {
            out.put_u8(mask_bit | 127);
            // A usize always fits in 64 bits on the targets Rust supports.
            out.put_u64(len as u64);
        }
    }
    if let Some(mask) = mask {
        out.put_slice(&mask);
    }
    let body_start = out.len();
    out.put_slice(payload);
    if let (Some(mask), Some(body)) = (mask, out.get_mut(body_start..)) {
        unmask(body, mask);
    }
    debug_assert!(out.len() >= body_start.saturating_add(len));
}

/// Appends one unmasked, final server frame. Refuses a control payload over 125 bytes.
pub fn encode_frame(
    opcode: Opcode,
    payload: &[u8],
    out: &mut BytesMut,
) -> Result<(), WsEncodeError> {
    if opcode.is_control() && payload.len() > usize::from(CONTROL_PAYLOAD_BYTES_MAX) {
        return Err(WsEncodeError::ControlTooLong {
            len_bytes: payload.len(),
        });
    }
    encode_frame_with(true, opcode, None, payload, out);
    Ok(())
}

/// Appends one binary frame carrying `payload` (MQTT bytes) to `out`.
pub fn encode_binary(payload: &[u8], out: &mut BytesMut) {
    encode_frame_with(true, Opcode::Binary, None, payload, out);
}

/// Appends the pong answering a ping whose payload was `payload`.
pub fn encode_pong(payload: &[u8], out: &mut BytesMut) -> Result<(), WsEncodeError> {
    encode_frame(Opcode::Pong, payload, out)
}

/// Appends a close frame with status `code` and UTF-8 `reason` (at most 123 bytes).
pub fn encode_close(code: u16, reason: &str, out: &mut BytesMut) -> Result<(), WsEncodeError> {
    let len_bytes = reason.len().saturating_add(2);
    if len_bytes > usize::from(CONTROL_PAYLOAD_BYTES_MAX) {
        return Err(WsEncodeError::ControlTooLong { len_bytes });
    }
    let mut payload = [0_u8; CONTROL_PAYLOAD_BYTES_MAX as usize];
    let body = code.to_be_bytes().into_iter().chain(reason.bytes());
    for (slot, byte) in payload.iter_mut().zip(body) {
        *slot = byte;
    }
    let frame_payload = payload.get(..len_bytes).unwrap_or_default();
    encode_frame(Opcode::Close, frame_payload, out)
}
