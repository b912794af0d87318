//! The client side of MQTT over websockets (RFC 6455) on any byte stream: the HTTP/1.1 upgrade
//! with `Sec-WebSocket-Protocol: mqtt`, then every write sent as one masked binary frame
//! ([`WsTx`]) and every read deframed ([`WsRx`]) with brokkr-codec's `ws` module.
//!
//! A server sends unmasked frames, which the deframer accepts (`require_mask: false`). Pings are
//! skipped, not answered: none of the brokers under test pings a client, and a read half cannot
//! write. A close frame reads as the end of the stream. Every wait is bounded by the caller.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use brokkr_codec::ws::{self, Deframer, Opcode, WsEvent, WsLimits};
use bytes::{Buf as _, BytesMut};
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// The request path of the upgrade (FlashMQ and brokkr accept any; Mosquitto's default).
pub const PATH: &str = "/mqtt";

/// Largest upgrade response head we read, in bytes.
pub const RESPONSE_HEAD_BYTES_MAX: usize = 8 * 1024;

/// Header fields parsed in the upgrade response, at most.
const RESPONSE_HEADERS_MAX: usize = 32;

/// Largest frame payload accepted from a broker, in bytes: a broker may put a whole write
/// buffer (several MiB of deliveries) into one frame.
pub const FRAME_PAYLOAD_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Read size per read call on the underlying stream.
const READ_CHUNK_BYTES: usize = 64 * 1024;

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("websocket: {e}"))
}

/// Upgrade `io` to a websocket carrying MQTT. Returns the receiving and sending halves of the
/// framing state; bytes the server sent after its response stay in the receiver.
pub async fn upgrade<S>(io: &mut S, host: SocketAddr) -> io::Result<(WsRx, WsTx)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (key, request) = upgrade_request(host);
    io.write_all(request.as_bytes()).await?;
    io.flush().await?;
    let mut raw = BytesMut::with_capacity(1024);
    loop {
        if let Some(head_len) = check_response(&raw, &key)? {
            raw.advance(head_len);
            return Ok((WsRx::new(raw), WsTx::default()));
        }
        if raw.len() >= RESPONSE_HEAD_BYTES_MAX {
            return Err(invalid("upgrade response head too long"));
        }
        raw.reserve(1024);
        if io.read_buf(&mut raw).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// A fresh `Sec-WebSocket-Key` and the upgrade request carrying it.
pub fn upgrade_request(host: SocketAddr) -> (String, String) {
    let key = STANDARD.encode(fastrand::u128(..).to_le_bytes());
    let request = format!(
        "GET {PATH} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: mqtt\r\n\r\n"
    );
    (key, request)
}

/// The deframer's bounds for frames from a broker: unmasked accepted, up to
/// [`FRAME_PAYLOAD_BYTES_MAX`].
pub fn client_limits() -> WsLimits {
    WsLimits {
        frame_payload_bytes_max: FRAME_PAYLOAD_BYTES_MAX,
        require_mask: false,
        ..WsLimits::DEFAULT
    }
}

/// The length of a complete, successful upgrade response at the start of `raw`, `None` if it
/// is incomplete; an error for a refusal, a wrong accept key or a missing `mqtt` subprotocol.
pub fn check_response(raw: &[u8], key: &str) -> io::Result<Option<usize>> {
    let mut headers = [httparse::EMPTY_HEADER; RESPONSE_HEADERS_MAX];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(raw).map_err(invalid)? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    if response.code != Some(101) {
        return Err(invalid(format!("upgrade refused: {:?}", response.code)));
    }
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.trim_ascii())
    };
    if header("sec-websocket-accept") != Some(ws::accept_key(key).as_bytes()) {
        return Err(invalid("wrong Sec-WebSocket-Accept"));
    }
    if header("sec-websocket-protocol").is_none_or(|p| !p.eq_ignore_ascii_case(b"mqtt")) {
        return Err(invalid("the mqtt subprotocol was not accepted"));
    }
    Ok(Some(head_len))
}

/// The receiving side: frames read from the stream, their payloads handed out as MQTT bytes.
#[derive(Debug)]
pub struct WsRx {
    raw: BytesMut,
    deframer: Deframer,
    closed: bool,
}

impl WsRx {
    fn new(raw: BytesMut) -> WsRx {
        WsRx {
            raw,
            deframer: Deframer::new(&client_limits()),
            closed: false,
        }
    }

    /// Append the MQTT bytes of the next frames to `buf`; 0 at the end of the stream (or a
    /// close frame). Cancel safe: nothing is lost if the future is dropped at its await.
    pub async fn read_buf<R>(&mut self, io: &mut R, buf: &mut BytesMut) -> io::Result<usize>
    where
        R: AsyncRead + Unpin,
    {
        loop {
            let got = self.deframe(buf)?;
            if got > 0 || self.closed {
                return Ok(got);
            }
            self.raw.reserve(READ_CHUNK_BYTES);
            if io.read_buf(&mut self.raw).await? == 0 {
                return Ok(0);
            }
        }
    }

    /// Move the payload of every complete frame in the raw buffer to `buf`.
    fn deframe(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        let mut got = 0;
        while !self.closed {
            match self.deframer.next(&mut self.raw).map_err(invalid)? {
                None => break,
                Some(WsEvent::Data(bytes)) => {
                    got += bytes.len();
                    buf.extend_from_slice(&bytes);
                }
                Some(WsEvent::Ping(_) | WsEvent::Pong) => {}
                Some(WsEvent::Close { .. }) => self.closed = true,
            }
        }
        Ok(got)
    }
}

/// The sending side: each write becomes one masked binary frame.
#[derive(Debug, Default)]
pub struct WsTx {
    out: BytesMut,
}

impl WsTx {
    /// Send `data` as one masked binary frame (a fresh random mask per frame).
    pub async fn write_all<W>(&mut self, io: &mut W, data: &[u8]) -> io::Result<()>
    where
        W: AsyncWrite + Unpin,
    {
        self.out.clear();
        let mask = fastrand::u32(..).to_ne_bytes();
        ws::encode_frame_with(true, Opcode::Binary, Some(mask), data, &mut self.out);
        io.write_all(&self.out).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(accept: &str, protocol: &str) -> String {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n"
        )
    }

    #[test]
    fn accepts_the_rfc_example_and_refuses_a_wrong_key() {
        // RFC 6455 section 1.3's example key and accept value.
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let ok = response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "mqtt");
        assert_eq!(check_response(ok.as_bytes(), key).unwrap(), Some(ok.len()));
        let partial = ok.get(..ok.len() - 2).unwrap();
        assert_eq!(check_response(partial.as_bytes(), key).unwrap(), None);
        let wrong = response("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "mqtt");
        assert!(check_response(wrong.as_bytes(), key).is_err());
        let no_mqtt = response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "chat");
        assert!(check_response(no_mqtt.as_bytes(), key).is_err());
        let refused = "HTTP/1.1 400 Bad Request\r\n\r\n";
        assert!(check_response(refused.as_bytes(), key).is_err());
    }

    #[tokio::test]
    async fn frames_round_trip_through_a_server_deframer() {
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let mut tx = WsTx::default();
        tx.write_all(&mut client, b"hello").await.unwrap();
        tx.write_all(&mut client, b" world").await.unwrap();
        // The server side requires masks, as RFC 6455 asks of clients.
        let mut rx = WsRx::new(BytesMut::new());
        rx.deframer = Deframer::new(&WsLimits {
            require_mask: true,
            ..WsLimits::DEFAULT
        });
        let mut got = BytesMut::new();
        while got.len() < 11 {
            assert!(rx.read_buf(&mut server, &mut got).await.unwrap() > 0);
        }
        assert_eq!(&got[..], b"hello world");
        // Unmasked server frames, a ping between them, then a close: end of stream.
        let mut frames = BytesMut::new();
        ws::encode_binary(b"ab", &mut frames);
        ws::encode_frame(Opcode::Ping, b"p", &mut frames).unwrap();
        ws::encode_binary(b"cd", &mut frames);
        ws::encode_close(1000, "", &mut frames).unwrap();
        server.write_all(&frames).await.unwrap();
        let mut rx = WsRx::new(BytesMut::new());
        let mut got = BytesMut::new();
        assert_eq!(rx.read_buf(&mut client, &mut got).await.unwrap(), 4);
        assert_eq!(&got[..], b"abcd");
        assert_eq!(rx.read_buf(&mut client, &mut got).await.unwrap(), 0);
    }
}
