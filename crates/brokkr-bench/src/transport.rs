//! What carries the generator's MQTT bytes: plain TCP, TLS, websockets, or websockets over TLS.
//!
//! [`Dialer`] opens a [`Stream`] (TCP connect, TLS handshake, websocket upgrade, as the transport
//! asks); a [`Stream`] can be split into a [`ReadHalf`] and a [`WriteHalf`] for tasks that read
//! and write at once. All three are enums over the stream kinds, so the plain TCP path costs one
//! match per call and no box or virtual call (the TLS and websocket variants box their larger
//! state). Writes over TLS are flushed before they return: tokio-rustls may otherwise keep the
//! last records of a write in the session until the next one. Every wait is bounded by the caller.

use crate::tls::TlsClient;
use crate::ws::{self, WsRx, WsTx};
use bytes::BytesMut;
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

type Tls = tokio_rustls::client::TlsStream<TcpStream>;
type TlsRead = tokio::io::ReadHalf<Tls>;
type TlsWrite = tokio::io::WriteHalf<Tls>;

/// The transport a workload runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum TransportKind {
    /// MQTT on plain TCP.
    #[default]
    Tcp,
    /// MQTT on TLS.
    Tls,
    /// MQTT on websockets (`protocol websockets`).
    Ws,
    /// MQTT on websockets on TLS.
    Wss,
}

impl TransportKind {
    /// Name in labels, tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
            TransportKind::Ws => "ws",
            TransportKind::Wss => "wss",
        }
    }

    /// TLS underneath.
    pub fn is_tls(self) -> bool {
        matches!(self, TransportKind::Tls | TransportKind::Wss)
    }

    /// Websockets on top.
    pub fn is_ws(self) -> bool {
        matches!(self, TransportKind::Ws | TransportKind::Wss)
    }
}

/// How to reach the broker: its address, the transport, the TLS settings when it needs them.
#[derive(Debug, Clone)]
pub struct Dialer {
    pub addr: SocketAddr,
    pub kind: TransportKind,
    tls: Option<TlsClient>,
}

impl Dialer {
    /// Plain TCP to `addr`.
    pub fn tcp(addr: SocketAddr) -> Dialer {
        Dialer {
            addr,
            kind: TransportKind::Tcp,
            tls: None,
        }
    }

    /// `kind` to `addr`; a TLS kind needs `tls`.
    pub fn new(
        addr: SocketAddr,
        kind: TransportKind,
        tls: Option<TlsClient>,
    ) -> io::Result<Dialer> {
        if kind.is_tls() && tls.is_none() {
            return Err(io::Error::other(format!(
                "the {} transport needs a CA to trust (--ca-file)",
                kind.name()
            )));
        }
        Ok(Dialer { addr, kind, tls })
    }

    /// The TLS settings, if the transport has TLS.
    pub fn tls(&self) -> Option<&TlsClient> {
        self.tls.as_ref().filter(|_| self.kind.is_tls())
    }

    /// Connect (TCP_NODELAY as asked) and run the transport's handshakes.
    pub async fn connect(&self, nodelay: bool) -> io::Result<Stream> {
        let mut tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(nodelay)?;
        match (self.kind, &self.tls) {
            (TransportKind::Tcp, _) => Ok(Stream::Tcp(tcp)),
            (TransportKind::Ws, _) => {
                let ws = ws::upgrade(&mut tcp, self.addr).await?;
                Ok(Stream::Ws(tcp, Box::new(ws)))
            }
            (TransportKind::Tls, Some(t)) => Ok(Stream::Tls(Box::new(t.connect(tcp).await?))),
            (TransportKind::Wss, Some(t)) => {
                let mut tls = Box::new(t.connect(tcp).await?);
                let ws = ws::upgrade(&mut *tls, self.addr).await?;
                Ok(Stream::Wss(tls, Box::new(ws)))
            }
            (TransportKind::Tls | TransportKind::Wss, None) => {
                Err(io::Error::other("no TLS settings"))
            }
        }
    }
}

/// A connected stream of MQTT bytes.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Tls(Box<Tls>),
    Ws(TcpStream, Box<(WsRx, WsTx)>),
    Wss(Box<Tls>, Box<(WsRx, WsTx)>),
}

impl Stream {
    /// Write all of `data` (one websocket frame on ws, flushed on TLS).
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(data).await,
            Stream::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Stream::Ws(s, w) => w.1.write_all(s, data).await,
            Stream::Wss(s, w) => {
                w.1.write_all(&mut **s, data).await?;
                s.flush().await
            }
        }
    }

    /// Append what arrives to `buf`; 0 at the end of the stream.
    pub async fn read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read_buf(buf).await,
            Stream::Tls(s) => s.read_buf(buf).await,
            Stream::Ws(s, w) => w.0.read_buf(s, buf).await,
            Stream::Wss(s, w) => w.0.read_buf(&mut **s, buf).await,
        }
    }

    /// Halves for a reading task and a writing task (TCP: the socket's owned halves; TLS: one
    /// session shared through tokio's split, which locks it per poll).
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Stream::Tcp(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Tcp(r), WriteHalf::Tcp(w))
            }
            Stream::Tls(s) => {
                let (r, w) = tokio::io::split(*s);
                (ReadHalf::Tls(Box::new(r)), WriteHalf::Tls(Box::new(w)))
            }
            Stream::Ws(s, ws) => {
                let (r, w) = s.into_split();
                let (rx, tx) = *ws;
                (
                    ReadHalf::Ws(r, Box::new(rx)),
                    WriteHalf::Ws(w, Box::new(tx)),
                )
            }
            Stream::Wss(s, ws) => {
                let (r, w) = tokio::io::split(*s);
                let (rx, tx) = *ws;
                (
                    ReadHalf::Wss(Box::new(r), Box::new(rx)),
                    WriteHalf::Wss(Box::new(w), Box::new(tx)),
                )
            }
        }
    }
}

/// The reading half of a [`Stream`].
#[derive(Debug)]
pub enum ReadHalf {
    Tcp(OwnedReadHalf),
    Tls(Box<TlsRead>),
    Ws(OwnedReadHalf, Box<WsRx>),
    Wss(Box<TlsRead>, Box<WsRx>),
}

impl ReadHalf {
    /// Append what arrives to `buf`; 0 at the end of the stream.
    pub async fn read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            ReadHalf::Tcp(s) => s.read_buf(buf).await,
            ReadHalf::Tls(s) => s.read_buf(buf).await,
            ReadHalf::Ws(s, rx) => rx.read_buf(s, buf).await,
            ReadHalf::Wss(s, rx) => rx.read_buf(&mut **s, buf).await,
        }
    }
}

/// The writing half of a [`Stream`].
#[derive(Debug)]
pub enum WriteHalf {
    Tcp(OwnedWriteHalf),
    Tls(Box<TlsWrite>),
    Ws(OwnedWriteHalf, Box<WsTx>),
    Wss(Box<TlsWrite>, Box<WsTx>),
}

impl WriteHalf {
    /// Write all of `data` (one websocket frame on ws, flushed on TLS).
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            WriteHalf::Tcp(s) => s.write_all(data).await,
            WriteHalf::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            WriteHalf::Ws(s, tx) => tx.write_all(s, data).await,
            WriteHalf::Wss(s, tx) => {
                tx.write_all(&mut **s, data).await?;
                s.flush().await
            }
        }
    }
}
