//! Opening a generator connection: connect over the workload's transport (TCP_NODELAY as asked;
//! the TLS and websocket handshakes included), CONNECT, wait for CONNACK, optionally SUBSCRIBE and wait for SUBACK. Every wait is bounded by
//! [`HANDSHAKE_TIMEOUT`]; bytes after the awaited packet stay in the returned read buffer.

use crate::transport::{Dialer, Stream};
use crate::wire::{self, Frame};
use brokkr_codec::{ProtocolVersion, QoS};
use bytes::BytesMut;
use std::io;
use std::time::Duration;

/// Longest wait for a CONNACK or SUBACK.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Read buffer size per read call.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Read buffer size while waiting for a CONNACK, SUBACK or PINGRESP.
const HANDSHAKE_READ_BYTES: usize = 4096;

/// A connected, acknowledged client.
#[derive(Debug)]
pub struct Conn {
    pub stream: Stream,
    pub buf: BytesMut,
    pub version: ProtocolVersion,
}

async fn bounded<T>(f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, f)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "broker did not answer in time"))?
}

impl Conn {
    /// Connect and wait for a successful CONNACK.
    pub async fn open(
        dialer: &Dialer,
        version: ProtocolVersion,
        client_id: &str,
        nodelay: bool,
    ) -> io::Result<Conn> {
        bounded(async {
            let stream = dialer.connect(nodelay).await?;
            let mut out = BytesMut::new();
            wire::connect(version, client_id, &mut out)?;
            let mut conn = Conn {
                stream,
                // Small: a storm holds thousands of these; the throughput loops reserve
                // `READ_CHUNK_BYTES` themselves before they read.
                buf: BytesMut::with_capacity(HANDSHAKE_READ_BYTES),
                version,
            };
            conn.stream.write_all(&out).await?;
            match conn
                .wait_for(|f| matches!(f, Frame::ConnAck { .. }))
                .await?
            {
                Frame::ConnAck { code: 0 } => Ok(conn),
                other => Err(wire::invalid(format!("connection refused: {other:?}"))),
            }
        })
        .await
    }

    /// Subscribe to `filter` and wait for the SUBACK (a failure code is an error).
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> io::Result<()> {
        bounded(async {
            let mut out = BytesMut::new();
            wire::subscribe(self.version, filter, qos, &mut out)?;
            self.stream.write_all(&out).await?;
            match self.wait_for(|f| matches!(f, Frame::SubAck { .. })).await? {
                Frame::SubAck { code } if code < 0x80 => Ok(()),
                other => Err(wire::invalid(format!("subscription refused: {other:?}"))),
            }
        })
        .await
    }

    /// Read until a frame matching `want` arrives; frames before it are dropped.
    async fn wait_for(&mut self, want: impl Fn(&Frame) -> bool) -> io::Result<Frame> {
        loop {
            while let Some(frame) = wire::next_frame(&mut self.buf)? {
                if want(&frame) {
                    return Ok(frame);
                }
            }
            self.buf.reserve(HANDSHAKE_READ_BYTES);
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Send a PINGREQ and wait for the PINGRESP: every packet sent before has been handled.
    pub async fn ping(&mut self) -> io::Result<()> {
        bounded(async {
            self.stream.write_all(&[0xC0, 0x00]).await?;
            self.wait_for(|f| matches!(f, Frame::Other(13))).await?;
            Ok(())
        })
        .await
    }
}
