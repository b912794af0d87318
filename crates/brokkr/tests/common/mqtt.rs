//! A minimal MQTT 3.1.1 client over a blocking socket, for the tests that kill the broker
//! (`journal_kill.rs`, `journal_crashes.rs`): CONNECT, SUBSCRIBE, QoS 1 PUBLISH, PUBACK, PINGREQ,
//! every wait bounded by the socket's read timeout.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A minimal MQTT 3.1.1 client over a blocking socket.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// One packet: first byte and body.
pub type Packet = (u8, Vec<u8>);

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

pub fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

impl Client {
    /// CONNECT and wait for CONNACK; `None` if the broker is not there (killed).
    pub fn connect(port: u16, client_id: &str, clean: bool) -> Option<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream.set_nodelay(true).ok()?;
        let mut body = Vec::new();
        put_str(&mut body, "MQTT");
        body.push(4);
        body.push(if clean { 0x02 } else { 0x00 });
        body.extend_from_slice(&60u16.to_be_bytes());
        put_str(&mut body, client_id);
        let mut c = Client {
            stream,
            buf: Vec::new(),
        };
        c.send(&frame(0x10, &body))?;
        c.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        let (first, body) = c.read()?;
        (first == 0x20 && body.get(1) == Some(&0)).then_some(c)
    }

    pub fn send(&mut self, bytes: &[u8]) -> Option<()> {
        self.stream.write_all(bytes).ok()
    }

    /// The next packet; `None` on a closed socket or a timeout.
    pub fn read(&mut self) -> Option<Packet> {
        loop {
            if let Some((used, packet)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Some(packet);
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    pub fn subscribe(&mut self, filter: &str) -> Option<()> {
        let mut body = vec![0, 1];
        put_str(&mut body, filter);
        body.push(1);
        self.send(&frame(0x82, &body))?;
        loop {
            let (first, _) = self.read()?;
            if first == 0x90 {
                return Some(());
            }
        }
    }

    pub fn publish(&mut self, topic: &str, id: u16, payload: &str, retain: bool) -> Option<()> {
        let mut body = Vec::new();
        put_str(&mut body, topic);
        body.extend_from_slice(&id.to_be_bytes());
        body.extend_from_slice(payload.as_bytes());
        self.send(&frame(0x32 | u8::from(retain), &body))
    }

    /// Acknowledge the QoS 1 PUBLISH with packet id `id`.
    pub fn puback(&mut self, id: u16) -> Option<()> {
        self.send(&[0x40, 2, (id >> 8) as u8, id as u8])
    }

    /// PINGREQ, then wait for PINGRESP; the PUBLISH packets read meanwhile are returned.
    pub fn ping(&mut self) -> Option<Vec<Packet>> {
        self.send(&[0xc0, 0])?;
        let mut other = Vec::new();
        loop {
            let packet = self.read()?;
            if packet.0 == 0xd0 {
                return Some(other);
            }
            other.push(packet);
        }
    }

    /// DISCONNECT (the session stays if it was not clean), then close.
    pub fn disconnect(mut self) {
        let _ = self.send(&[0xe0, 0]);
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        // Wait for the broker's close, so the DISCONNECT is handled before the caller goes on.
        let _ = self.stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut sink = [0u8; 1024];
        while matches!(self.stream.read(&mut sink), Ok(n) if n > 0) {}
    }

    /// Publish `payloads` at QoS 1 to `topic` (ids 1, 2, ...; at most 65,535) and wait for
    /// every PUBACK.
    pub fn publish_all(&mut self, topic: &str, payloads: &[String], retain: bool) -> Option<()> {
        for (i, payload) in payloads.iter().enumerate() {
            let id = u16::try_from(i + 1).ok()?;
            self.publish(topic, id, payload, retain)?;
        }
        let mut waiting: std::collections::BTreeSet<u16> =
            (1..=u16::try_from(payloads.len()).ok()?).collect();
        while !waiting.is_empty() {
            let (first, body) = self.read()?;
            if first == 0x40 && body.len() == 2 {
                waiting.remove(&u16::from_be_bytes([body[0], body[1]]));
            }
        }
        Some(())
    }
}

fn parse(buf: &[u8]) -> Option<(usize, Packet)> {
    let first = *buf.first()?;
    let (mut len, mut shift, mut i) = (0usize, 0, 1);
    loop {
        let b = *buf.get(i)?;
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let body = buf.get(i..i + len)?.to_vec();
    Some((i + len, (first, body)))
}

/// A PUBLISH's topic and payload (QoS 1: a packet id between them), and its id.
pub fn publish_parts(first: u8, body: &[u8]) -> (String, u16, String) {
    let tlen = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let topic = String::from_utf8(body[2..2 + tlen].to_vec()).unwrap();
    let (id, rest) = if first & 0x06 != 0 {
        (
            u16::from_be_bytes([body[2 + tlen], body[3 + tlen]]),
            &body[4 + tlen..],
        )
    } else {
        (0, &body[2 + tlen..])
    };
    (topic, id, String::from_utf8(rest.to_vec()).unwrap())
}
