//! What lies between a socket and the MQTT bytes: a PROXY header, TLS and websocket framing,
//! as one sans-IO [`Stack`] per connection.
//!
//! The stages run in the order a connection carries them: the PROXY header (sent in clear by
//! the balancer, before anything else), then TLS, then the websocket upgrade and frames. Raw
//! bytes go in through [`Stack::ingest`], which appends the MQTT bytes they carry to the
//! caller's buffer; MQTT bytes go out through [`Stack::seal`]. Whatever the stages must send on
//! their own (a TLS handshake, the `101` response, a pong, a close frame) collects in the
//! stack's output with the sealed bytes, in order, for the connection to write.
//!
//! A plain TCP or unix socket connection has no stack at all: its bytes go to the shard and
//! back untouched (the common case costs nothing here). No stage reads a socket or a clock,
//! so the fuzz mode drives the same code.

use crate::cluster::PeerFilter;
use brokkr_codec::proxy::{self, ProxyError, ProxyLimits, ProxyParse};
use brokkr_codec::ws::{self, Deframer, HandshakeError, UpgradeParse, WsError, WsEvent, WsLimits};
use brokkr_core::access::TransportUser;
use bytes::BytesMut;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

#[cfg(test)]
mod tests;

/// Wire bytes the stages may hold for one connection on their own account (pongs, handshake
/// records) beyond what the shard's write buffer already bounds; a peer that makes the stack
/// produce more while it does not read is disconnected.
pub const TRANSPORT_OUT_BYTES_MAX: usize = 1 << 20;

/// How a listener treats a PROXY protocol header (FlashMQ's `haproxy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyMode {
    /// No header expected; one is MQTT garbage.
    #[default]
    Off,
    /// Every connection starts with a v1 or v2 header; its source address is the client's.
    On,
    /// As `On`, and the SSL TLV's client certificate CN is the username (a client without a
    /// verified certificate is refused).
    ClientVerification,
    /// As `ClientVerification`, and the password is still checked under that name.
    ClientVerificationWithAuthn,
}

/// What a listener puts between its sockets and MQTT.
#[derive(Debug, Clone, Default)]
pub struct TransportSpec {
    /// PROXY protocol header first.
    pub proxy: ProxyMode,
    /// TLS (`fullchain` and `privkey`).
    pub tls: Option<Arc<crate::tls::TlsListener>>,
    /// `client_verification_still_do_authn`: with a verified client certificate, also check
    /// the password under its CN.
    pub still_do_authn: bool,
    /// `protocol websockets`.
    pub websocket: bool,
    /// `websocket_set_real_ip_from`: peers whose `X-Real-IP` header is believed.
    pub real_ip_from: Option<Arc<dyn PeerFilter>>,
    /// `only_allow_from`/`deny_from`, applied again to the address a PROXY header or a
    /// trusted `X-Real-IP` reveals (the accept-time check saw only the balancer).
    pub source_filter: Option<Arc<dyn PeerFilter>>,
}

impl TransportSpec {
    /// True when the listener carries MQTT directly on the socket (no stack needed).
    pub fn is_plain(&self) -> bool {
        self.proxy == ProxyMode::Off && self.tls.is_none() && !self.websocket
    }

    /// A short name for logs: `mqtt`, `mqtt+tls`, `websockets`, `websockets+tls`, with
    /// `+proxy` when a PROXY header is expected.
    pub fn describe(&self) -> String {
        let mut name = String::from(if self.websocket { "websockets" } else { "mqtt" });
        if self.tls.is_some() {
            name.push_str("+tls");
        }
        if self.proxy != ProxyMode::Off {
            name.push_str("+proxy");
        }
        name
    }
}

/// Why a transport gave up on a connection.
#[derive(Debug)]
pub enum TransportError {
    /// The PROXY header was malformed or missing.
    Proxy(ProxyError),
    /// `client_verification` mode and the balancer vouched for no client certificate.
    ProxyWithoutCertificate,
    /// TLS failed (handshake, certificate, a bad record).
    Tls(rustls::Error),
    /// The client's certificate verified but names no Common Name to log in with.
    CertificateWithoutName,
    /// The websocket upgrade request was refused.
    Upgrade(HandshakeError),
    /// A websocket frame broke the rules (or was text, MQTT-6.0.0-1).
    Frame(WsError),
    /// The peer made the transport produce more output than it reads.
    OutputOverflow,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Proxy(e) => write!(f, "PROXY header: {e}"),
            Self::ProxyWithoutCertificate => {
                f.write_str("the PROXY header vouches for no verified client certificate")
            }
            Self::Tls(e) => write!(f, "TLS: {e}"),
            Self::CertificateWithoutName => {
                f.write_str("the client certificate has no Common Name to use as the username")
            }
            Self::Upgrade(e) => write!(f, "websocket upgrade: {e}"),
            Self::Frame(e) => write!(f, "websocket: {e}"),
            Self::OutputOverflow => f.write_str("the peer does not read what the transport sends"),
        }
    }
}

/// What [`Stack::ingest`] learned besides the MQTT bytes.
#[derive(Debug, Default)]
pub struct Learned {
    /// The client's real address (a PROXY header, or a trusted `X-Real-IP`).
    pub peer: Option<SocketAddr>,
    /// The username the transport proved: set once, before the first MQTT byte.
    pub user: Option<TransportUser>,
}

/// The websocket stage.
#[derive(Debug)]
struct Websocket {
    /// The upgrade request head while it is incomplete; `None` once upgraded.
    handshake: Option<Vec<u8>>,
    deframer: Deframer,
    /// Frame bytes not decoded yet.
    frames: BytesMut,
}

/// One connection's transport state (see the module documentation).
#[derive(Debug)]
pub struct Stack {
    spec: Arc<TransportSpec>,
    /// The connection's peer as the transport knows it (updated by PROXY and `X-Real-IP`).
    peer: Option<SocketAddr>,
    /// The PROXY header's bytes while it is incomplete; `None` when done or not expected.
    proxy: Option<Vec<u8>>,
    tls: Option<Box<rustls::ServerConnection>>,
    /// The TLS handshake finished and its outcome (the client's name) was reported.
    tls_settled: bool,
    ws: Option<Box<Websocket>>,
    /// Wire bytes for the socket, in order.
    out: Vec<u8>,
    /// The peer closed the transport (a websocket close frame, a TLS close_notify).
    closed_by_peer: bool,
}

impl Stack {
    /// The state of a new connection from `peer` on a listener with `spec`.
    pub fn new(spec: Arc<TransportSpec>, peer: Option<SocketAddr>) -> Result<Self, TransportError> {
        let tls = match &spec.tls {
            Some(listener) => {
                let mut tls = listener
                    .accept()
                    .map_err(|e| TransportError::Tls(rustls::Error::General(e.to_string())))?;
                // Every write through `writer()` is turned into records at once (`write_tls`
                // into the stack's output), so rustls never holds more than one write; its
                // own 64 KiB limit would make a larger write fail half done. What waits for
                // the socket is bounded by the shard's write-buffer cap instead (the shard
                // hears bytes left only when their records are written).
                tls.set_buffer_limit(None);
                Some(Box::new(tls))
            }
            None => None,
        };
        let ws = spec.websocket.then(|| {
            Box::new(Websocket {
                handshake: Some(Vec::new()),
                deframer: Deframer::new(&WsLimits::DEFAULT),
                frames: BytesMut::new(),
            })
        });
        Ok(Self {
            proxy: (spec.proxy != ProxyMode::Off).then(Vec::new),
            tls_settled: tls.is_none(),
            spec,
            peer,
            tls,
            ws,
            out: Vec::new(),
            closed_by_peer: false,
        })
    }

    /// The peer's address as the transport knows it.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The listener's transport.
    pub fn spec(&self) -> &Arc<TransportSpec> {
        &self.spec
    }

    /// May a client at `ip` (learned from a PROXY header or `X-Real-IP`) connect?
    pub fn source_allowed(&self, ip: IpAddr) -> bool {
        self.spec
            .source_filter
            .as_ref()
            .is_none_or(|f| f.allowed(ip))
    }

    /// Feed bytes read from the socket; the MQTT bytes they carry are appended to `mqtt`.
    /// After an error the connection must close once [`Stack::take_out`] is written (it may
    /// hold a TLS alert, an HTTP error or a websocket close frame).
    pub fn ingest(&mut self, raw: &[u8], mqtt: &mut Vec<u8>) -> Result<Learned, TransportError> {
        let mut learned = Learned::default();
        if let Some(head) = self.proxy.as_mut() {
            head.extend_from_slice(raw);
            let limits = ProxyLimits::DEFAULT;
            match proxy::parse_with(head, &limits).map_err(TransportError::Proxy)? {
                ProxyParse::NeedMore => return Ok(learned),
                ProxyParse::Header { consumed, header } => {
                    let head = self.proxy.take().unwrap_or_default();
                    if !header.local
                        && let Some(source) = header.source
                    {
                        self.peer = Some(source);
                        learned.peer = Some(source);
                    }
                    if let Some(user) = self.proxy_user(&header)? {
                        learned.user = Some(user);
                    }
                    let rest = head.get(consumed..).unwrap_or_default();
                    self.after_proxy(rest, mqtt, &mut learned)?;
                    return Ok(learned);
                }
            }
        }
        self.after_proxy(raw, mqtt, &mut learned)?;
        Ok(learned)
    }

    /// The name a PROXY header vouches for, in the `client_verification` modes.
    fn proxy_user(
        &self,
        header: &proxy::ProxyHeader,
    ) -> Result<Option<TransportUser>, TransportError> {
        let still_authenticate = match self.spec.proxy {
            ProxyMode::Off | ProxyMode::On => return Ok(None),
            ProxyMode::ClientVerification => false,
            ProxyMode::ClientVerificationWithAuthn => true,
        };
        let name = header
            .ssl
            .as_ref()
            .filter(|ssl| ssl.cert_verified())
            .and_then(|ssl| ssl.cn.as_deref())
            .filter(|cn| !cn.is_empty())
            .ok_or(TransportError::ProxyWithoutCertificate)?;
        Ok(Some(TransportUser {
            name: Arc::from(name),
            still_authenticate,
        }))
    }

    /// TLS, then websocket.
    fn after_proxy(
        &mut self,
        raw: &[u8],
        mqtt: &mut Vec<u8>,
        learned: &mut Learned,
    ) -> Result<(), TransportError> {
        if self.tls.is_none() {
            return self.websocket_in(raw, mqtt, learned);
        }
        let mut plain = Vec::new();
        self.tls_in(raw, &mut plain, learned)?;
        self.websocket_in(&plain, mqtt, learned)
    }

    /// Decrypt `raw` into `plain`; handshake records go to the output.
    fn tls_in(
        &mut self,
        raw: &[u8],
        plain: &mut Vec<u8>,
        learned: &mut Learned,
    ) -> Result<(), TransportError> {
        let Some(tls) = self.tls.as_mut() else {
            plain.extend_from_slice(raw);
            return Ok(());
        };
        let mut rest = raw;
        while !rest.is_empty() {
            // `read_tls` takes at most one buffer's worth per call; a full buffer means the
            // plaintext must be drained first (below), which `process_new_packets` does.
            let n = match tls.read_tls(&mut rest) {
                Ok(n) => n,
                Err(e) => {
                    return Err(TransportError::Tls(rustls::Error::General(e.to_string())));
                }
            };
            let state = match tls.process_new_packets() {
                Ok(state) => state,
                Err(e) => {
                    // The alert rustls queued goes out before the close.
                    drain_records(tls, &mut self.out);
                    return Err(TransportError::Tls(e));
                }
            };
            let mut readable = state.plaintext_bytes_to_read();
            while readable > 0 {
                let start = plain.len();
                plain.resize(start + readable, 0);
                let got = std::io::Read::read(
                    &mut tls.reader(),
                    plain.get_mut(start..).unwrap_or_default(),
                )
                .unwrap_or(0);
                plain.truncate(start + got);
                if got == 0 {
                    break;
                }
                readable = readable.saturating_sub(got);
            }
            if state.peer_has_closed() {
                self.closed_by_peer = true;
            }
            if n == 0 {
                break;
            }
        }
        drain_records(tls, &mut self.out);
        if !self.tls_settled && !tls.is_handshaking() {
            self.tls_settled = true;
            let verifies = self.spec.tls.as_ref().is_some_and(|l| l.verifies_clients());
            if verifies {
                let name =
                    crate::tls::client_cn(tls).ok_or(TransportError::CertificateWithoutName)?;
                learned.user = Some(TransportUser {
                    name: Arc::from(name.as_str()),
                    still_authenticate: self.spec.still_do_authn,
                });
            }
        }
        if self.out.len() > TRANSPORT_OUT_BYTES_MAX {
            return Err(TransportError::OutputOverflow);
        }
        Ok(())
    }

    /// Upgrade, then frames.
    fn websocket_in(
        &mut self,
        bytes: &[u8],
        mqtt: &mut Vec<u8>,
        learned: &mut Learned,
    ) -> Result<(), TransportError> {
        let Some(ws) = self.ws.as_mut() else {
            mqtt.extend_from_slice(bytes);
            return Ok(());
        };
        if let Some(head) = ws.handshake.as_mut() {
            head.extend_from_slice(bytes);
            let limits = WsLimits::DEFAULT;
            let parsed = match ws::parse_upgrade_request(head, &limits) {
                Ok(parsed) => parsed,
                Err(e) => {
                    let mut reply = BytesMut::new();
                    ws::write_rejection(&e, &mut reply);
                    self.emit(&reply)?;
                    return Err(TransportError::Upgrade(e));
                }
            };
            let UpgradeParse::Request { consumed, request } = parsed else {
                return Ok(());
            };
            let head = ws.handshake.take().unwrap_or_default();
            ws.frames
                .extend_from_slice(head.get(consumed..).unwrap_or_default());
            if let Some(real) = self.trusted_real_ip(request.real_ip.as_deref()) {
                self.peer = Some(real);
                learned.peer = Some(real);
            }
            let mut reply = BytesMut::new();
            ws::write_switching_protocols(&request, &mut reply);
            self.emit(&reply)?;
        } else {
            ws.frames.extend_from_slice(bytes);
        }
        self.frames_in(mqtt)
    }

    /// `X-Real-IP`, if the direct peer is in `websocket_set_real_ip_from` and it parses.
    fn trusted_real_ip(&self, header: Option<&str>) -> Option<SocketAddr> {
        let header = header?;
        let direct = self.peer?;
        let trusted = self.spec.real_ip_from.as_ref()?;
        if !trusted.allowed(direct.ip()) {
            return None;
        }
        let ip: IpAddr = header.parse().ok()?;
        Some(SocketAddr::new(ip, direct.port()))
    }

    /// Decode every complete frame.
    fn frames_in(&mut self, mqtt: &mut Vec<u8>) -> Result<(), TransportError> {
        loop {
            let Some(ws) = self.ws.as_mut() else {
                return Ok(());
            };
            let event = match ws.deframer.next(&mut ws.frames) {
                Ok(Some(event)) => event,
                Ok(None) => {
                    if ws.frames.is_empty() && ws.frames.capacity() > 4096 {
                        ws.frames = BytesMut::new(); // idle: give the memory back
                    }
                    return Ok(());
                }
                Err(e) => {
                    let mut close = BytesMut::new();
                    let _ = ws::encode_close(e.close_code(), "", &mut close);
                    self.emit(&close)?;
                    return Err(TransportError::Frame(e));
                }
            };
            match event {
                WsEvent::Data(bytes) => mqtt.extend_from_slice(&bytes),
                WsEvent::Ping(payload) => {
                    let mut pong = BytesMut::new();
                    let _ = ws::encode_pong(&payload, &mut pong);
                    self.emit(&pong)?;
                }
                WsEvent::Pong => {}
                WsEvent::Close { code, .. } => {
                    // Answer with the same code (RFC 6455 5.5.1); the connection then closes
                    // as lost, so the will fires (as FlashMQ).
                    let mut close = BytesMut::new();
                    let _ = ws::encode_close(code.unwrap_or(1000), "", &mut close);
                    self.emit(&close)?;
                    self.closed_by_peer = true;
                    if let Some(ws) = self.ws.as_mut() {
                        ws.frames = BytesMut::new();
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Send the transport's own `bytes` (a pong, a close frame, the `101`) below the websocket
    /// stage, within the output bound.
    fn emit(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.write_below(bytes);
        if self.out.len() > TRANSPORT_OUT_BYTES_MAX {
            return Err(TransportError::OutputOverflow);
        }
        Ok(())
    }

    /// Wrap MQTT bytes for the wire (a binary frame, TLS records) into the output.
    pub fn seal(&mut self, mqtt: &[u8]) {
        if mqtt.is_empty() {
            return;
        }
        if self.ws.is_some() {
            let mut frame = BytesMut::with_capacity(mqtt.len() + 10);
            ws::encode_binary(mqtt, &mut frame);
            self.write_below(&frame);
        } else {
            self.write_below(mqtt);
        }
    }

    /// Send `bytes` below the websocket stage: through TLS if there is TLS. No bound here:
    /// sealed MQTT bytes are bounded by the shard, the transport's own by [`Stack::emit`].
    fn write_below(&mut self, bytes: &[u8]) {
        match self.tls.as_mut() {
            Some(tls) => {
                // Cannot fall short: the buffer limit is lifted in `Stack::new`.
                let _ = std::io::Write::write_all(&mut tls.writer(), bytes);
                drain_records(tls, &mut self.out);
            }
            None => self.out.extend_from_slice(bytes),
        }
    }

    /// The server is closing the connection: a websocket close frame and a TLS close_notify
    /// go out after what was sealed.
    pub fn finish(&mut self) {
        if self.ws.as_ref().is_some_and(|w| w.handshake.is_none()) && !self.closed_by_peer {
            let mut close = BytesMut::new();
            let _ = ws::encode_close(1000, "", &mut close);
            self.write_below(&close);
        }
        if let Some(tls) = self.tls.as_mut() {
            tls.send_close_notify();
            drain_records(tls, &mut self.out);
        }
    }

    /// True once the peer closed the transport; the connection then ends.
    pub fn closed_by_peer(&self) -> bool {
        self.closed_by_peer
    }

    /// Wire bytes waiting for the socket.
    pub fn has_out(&self) -> bool {
        !self.out.is_empty()
    }

    /// Take the wire bytes waiting for the socket.
    pub fn take_out(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Give back wire bytes that could not be written yet (they go first next time).
    pub fn put_back(&mut self, mut unsent: Vec<u8>) {
        unsent.extend_from_slice(&self.out);
        self.out = unsent;
    }
}

/// Move every TLS record rustls has ready into `out`.
fn drain_records(tls: &mut rustls::ServerConnection, out: &mut Vec<u8>) {
    while tls.wants_write() {
        if tls.write_tls(out).is_err() {
            break;
        }
    }
}
