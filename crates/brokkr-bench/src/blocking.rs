//! Blocking streams over every transport, for the latency scenario's threads (a tokio timer's
//! 1 ms granularity would add its own delay to the pacing).
//!
//! A [`BlockingStream`] is a socket with, as the transport asks, a rustls `ClientConnection`
//! and a websocket layer. [`BlockingStream::try_clone`] gives a second handle on the same
//! connection for another thread: the socket is cloned, the TLS session is shared behind a
//! mutex that is held only to feed it received bytes or to encrypt and send, never while a
//! thread waits for the socket. So one thread may block in a read while another writes. Each
//! handle keeps its own websocket receiving state: only one handle of a connection may read.

use crate::transport::{Dialer, TransportKind};
use crate::ws;
use brokkr_codec::ws::{self as codec_ws, Deframer, Opcode, WsEvent};
use bytes::{Buf as _, BytesMut};
use rustls::ClientConnection;
use std::io::{self, Read as _, Write as _};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bytes read from the socket per call.
const READ_CHUNK_BYTES: usize = 16 * 1024;

fn poisoned<T>(_: T) -> io::Error {
    io::Error::other("TLS session lock poisoned")
}

/// One handle on a connection (see the module documentation).
#[derive(Debug)]
pub struct BlockingStream {
    sock: TcpStream,
    tls: Option<Arc<Mutex<ClientConnection>>>,
    /// Websocket frames received and not yet decoded, and their decoder; `None`: no websocket.
    ws: Option<(BytesMut, Deframer)>,
}

impl BlockingStream {
    /// Connect with `dialer`'s transport (TCP_NODELAY as asked), every handshake bounded by
    /// `timeout`.
    pub fn connect(dialer: &Dialer, nodelay: bool, timeout: Duration) -> io::Result<Self> {
        let mut sock = TcpStream::connect_timeout(&dialer.addr, timeout)?;
        sock.set_nodelay(nodelay)?;
        sock.set_read_timeout(Some(timeout))?;
        sock.set_write_timeout(Some(timeout))?;
        let tls = match (dialer.kind.is_tls(), dialer.tls()) {
            (false, _) => None,
            (true, None) => return Err(io::Error::other("no TLS settings")),
            (true, Some(t)) => {
                let mut conn = ClientConnection::new(t.config(), t.server_name.clone())
                    .map_err(io::Error::other)?;
                while conn.is_handshaking() {
                    conn.complete_io(&mut sock)?;
                }
                Some(Arc::new(Mutex::new(conn)))
            }
        };
        let mut stream = BlockingStream {
            sock,
            tls,
            ws: None,
        };
        if dialer.kind.is_ws() {
            stream.upgrade(dialer)?;
        }
        debug_assert!(dialer.kind != TransportKind::Tcp || stream.tls.is_none());
        Ok(stream)
    }

    fn upgrade(&mut self, dialer: &Dialer) -> io::Result<()> {
        let (key, request) = ws::upgrade_request(dialer.addr);
        self.write_below(request.as_bytes())?;
        let mut head = BytesMut::new();
        loop {
            if let Some(len) = ws::check_response(&head, &key)? {
                head.advance(len);
                self.ws = Some((head, Deframer::new(&ws::client_limits())));
                return Ok(());
            }
            if head.len() >= ws::RESPONSE_HEAD_BYTES_MAX {
                return Err(io::Error::other("websocket upgrade response head too long"));
            }
            if self.read_below(&mut head)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// A second handle on the same connection (for a writing thread).
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(BlockingStream {
            sock: self.sock.try_clone()?,
            tls: self.tls.clone(),
            ws: self
                .ws
                .as_ref()
                .map(|_| (BytesMut::new(), Deframer::new(&ws::client_limits()))),
        })
    }

    /// How long a read may wait (`None`: for ever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }

    /// Write all of `data` (one masked frame on websockets).
    pub fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if self.ws.is_none() {
            return self.write_below(data);
        }
        let mut frame = BytesMut::new();
        let mask = fastrand::u32(..).to_ne_bytes();
        codec_ws::encode_frame_with(true, Opcode::Binary, Some(mask), data, &mut frame);
        self.write_below(&frame)
    }

    /// Append the next MQTT bytes to `buf`: at least one byte, 0 at the end of the stream, or
    /// the socket's timeout error.
    pub fn read_some(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        let Some((mut raw, mut deframer)) = self.ws.take() else {
            return self.read_below(buf);
        };
        let result = loop {
            match deframe(&mut raw, &mut deframer, buf) {
                Ok(Some(n)) if n > 0 => break Ok(n),
                Ok(Some(_)) => {}
                Ok(None) => break Ok(0),
                Err(e) => break Err(e),
            }
            match self.read_below(&mut raw) {
                Ok(0) => break Ok(0),
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        };
        self.ws = Some((raw, deframer));
        result
    }

    /// Bytes below the websocket layer: through TLS if there is TLS.
    fn write_below(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(tls) = &self.tls else {
            return self.sock.write_all(data);
        };
        let mut tls = tls.lock().map_err(poisoned)?;
        tls.writer().write_all(data)?;
        while tls.wants_write() {
            tls.write_tls(&mut self.sock)?;
        }
        Ok(())
    }

    /// Plaintext from below the websocket layer: at least one byte, or 0 at the end.
    fn read_below(&mut self, out: &mut BytesMut) -> io::Result<usize> {
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        loop {
            let n = self.sock.read(&mut chunk)?;
            let received = chunk.get(..n).unwrap_or_default();
            let Some(tls) = &self.tls else {
                out.extend_from_slice(received);
                return Ok(n);
            };
            if n == 0 {
                return Ok(0);
            }
            let mut tls = tls.lock().map_err(poisoned)?;
            let mut rest = received;
            let mut got = 0;
            while !rest.is_empty() {
                if tls.read_tls(&mut rest)? == 0 {
                    break;
                }
                let state = tls.process_new_packets().map_err(io::Error::other)?;
                let readable = state.plaintext_bytes_to_read();
                if readable > 0 {
                    let start = out.len();
                    out.resize(start + readable, 0);
                    let read = tls
                        .reader()
                        .read(out.get_mut(start..).unwrap_or_default())?;
                    out.truncate(start + read);
                    got += read;
                }
                if state.peer_has_closed() && got == 0 {
                    return Ok(0);
                }
            }
            while tls.wants_write() {
                tls.write_tls(&mut self.sock)?;
            }
            if got > 0 {
                return Ok(got);
            }
        }
    }
}

/// Decode the complete frames in `raw` into `buf`: `Some(bytes moved)`, `None` after a close.
fn deframe(raw: &mut BytesMut, d: &mut Deframer, buf: &mut BytesMut) -> io::Result<Option<usize>> {
    let mut got = 0;
    loop {
        match d
            .next(raw)
            .map_err(|e| io::Error::other(format!("websocket: {e}")))?
        {
            None => return Ok(Some(got)),
            Some(WsEvent::Data(bytes)) => {
                got += bytes.len();
                buf.extend_from_slice(&bytes);
            }
            Some(WsEvent::Ping(_) | WsEvent::Pong) => {}
            Some(WsEvent::Close { .. }) if got == 0 => return Ok(None),
            Some(WsEvent::Close { .. }) => return Ok(Some(got)),
        }
    }
}
