//! The trivial relay: the machine's upper bound. Framing only, no broker logic: CONNECT gets a
//! CONNACK, SUBSCRIBE a SUBACK granting what was asked and registers the exact filter (or `#`),
//! every PUBLISH is forwarded byte for byte to every socket subscribed to its exact topic (or to
//! `#`), QoS 1 gets a PUBACK, QoS 2 a PUBREC, PUBREL a PUBCOMP and a subscriber's PUBREC a
//! PUBREL; PINGREQ a PINGRESP. No sessions, no retained store, no packet-id rewriting. Output is
//! coalesced per connection and written once per loop turn by that connection's writer task.

use brokkr_codec::peek_header;
use bytes::{Buf as _, BytesMut};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// A subscriber's pending output above this drops further QoS 0 forwards (as a broker would).
pub const OUT_BYTES_MAX: usize = 16 << 20;

/// Largest packet the relay accepts.
pub const PACKET_BYTES_MAX: usize = 1 << 20;

#[derive(Debug, Default)]
struct Peer {
    out: RefCell<BytesMut>,
    wake: Notify,
    /// The peer's CONNECT said MQTT 5 (CONNACK and SUBACK then carry a property block).
    v5: std::cell::Cell<bool>,
    /// With mio: this peer's token and the loop's list of peers with output (listed once).
    dirty: Option<(mio::Token, Rc<RefCell<Vec<mio::Token>>>)>,
    listed: std::cell::Cell<bool>,
}

impl Peer {
    fn send(&self, bytes: &[u8]) {
        let mut out = self.out.borrow_mut();
        if out.len() < OUT_BYTES_MAX {
            out.extend_from_slice(bytes);
        }
        match &self.dirty {
            Some((token, list)) => {
                if !self.listed.replace(true) {
                    list.borrow_mut().push(*token);
                }
            }
            None => self.wake.notify_one(),
        }
    }
}

type Routes = Rc<RefCell<HashMap<Vec<u8>, Vec<Rc<Peer>>>>>;

/// Serve on `addr` until the process is killed.
pub async fn serve(addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let routes: Routes = Rc::default();
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (mut read, mut write) = stream.into_split();
        let peer = Rc::new(Peer::default());
        let writer_peer = Rc::clone(&peer);
        tokio::task::spawn_local(async move {
            loop {
                writer_peer.wake.notified().await;
                let out = std::mem::take(&mut *writer_peer.out.borrow_mut());
                if write.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
        let routes = Rc::clone(&routes);
        tokio::task::spawn_local(async move {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            loop {
                buf.reserve(64 * 1024);
                match read.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if handle(&mut buf, &peer, &routes).is_err() {
                    break;
                }
            }
            for subs in routes.borrow_mut().values_mut() {
                subs.retain(|p| !Rc::ptr_eq(p, &peer));
            }
        });
    }
}

/// The listener's token in the mio loop; connections count up from 1.
const LISTENER: mio::Token = mio::Token(0);

/// One connection of the mio relay.
struct MioConn {
    stream: mio::net::TcpStream,
    peer: Rc<Peer>,
    buf: BytesMut,
}

/// The same relay on a bare mio loop (edge-triggered; each connection read until it would
/// block, then every connection with output written once per loop turn). Serves until killed.
pub fn serve_mio(addr: SocketAddr) -> io::Result<()> {
    use mio::{Events, Interest, Poll, Token};
    use std::io::{Read as _, Write as _};
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut listener = mio::net::TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let routes: Routes = Rc::default();
    let dirty: Rc<RefCell<Vec<Token>>> = Rc::default();
    let mut conns: HashMap<Token, MioConn> = HashMap::new();
    let mut next = 1usize;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        poll.poll(&mut events, None)?;
        for event in events.iter() {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nodelay(true)?;
                            let token = Token(next);
                            next += 1;
                            poll.registry().register(
                                &mut stream,
                                token,
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            let peer = Rc::new(Peer {
                                dirty: Some((token, Rc::clone(&dirty))),
                                ..Peer::default()
                            });
                            let buf = BytesMut::with_capacity(64 * 1024);
                            conns.insert(token, MioConn { stream, peer, buf });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let token = event.token();
            let mut gone = false;
            if let Some(c) = conns.get_mut(&token) {
                if event.is_readable() {
                    loop {
                        match c.stream.read(&mut chunk) {
                            Ok(0) => {
                                gone = true;
                                break;
                            }
                            Ok(n) => c.buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(_) => {
                                gone = true;
                                break;
                            }
                        }
                    }
                    if !gone && handle(&mut c.buf, &c.peer, &routes).is_err() {
                        gone = true;
                    }
                }
                if event.is_writable() && !gone {
                    dirty.borrow_mut().push(token);
                }
            }
            if gone && let Some(mut c) = conns.remove(&token) {
                let _ = poll.registry().deregister(&mut c.stream);
                for subs in routes.borrow_mut().values_mut() {
                    subs.retain(|p| !Rc::ptr_eq(p, &c.peer));
                }
            }
        }
        // Write once per turn to every connection with output.
        let waiting = std::mem::take(&mut *dirty.borrow_mut());
        for token in waiting {
            let Some(c) = conns.get_mut(&token) else {
                continue;
            };
            c.peer.listed.set(false);
            let mut out = c.peer.out.borrow_mut();
            while !out.is_empty() {
                match c.stream.write(&out) {
                    Ok(n) => out.advance(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => break,
                }
            }
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<[u8; 2]> {
    b.get(at..at + 2).and_then(|s| <[u8; 2]>::try_from(s).ok())
}

/// Handle every complete packet in `buf`.
fn handle(buf: &mut BytesMut, peer: &Rc<Peer>, routes: &Routes) -> io::Result<()> {
    while let Some(h) = peek_header(buf, PACKET_BYTES_MAX).map_err(crate::wire::invalid)? {
        let len = h.packet_len();
        let Some(packet) = buf.get(..len) else {
            break;
        };
        let body = packet.get(h.header_len..).unwrap_or_default();
        match h.packet_type() {
            1 => connect(body, peer),
            3 => publish(packet, body, h.flags(), peer, routes),
            5 => reply(peer, 0x62, body),
            6 => reply(peer, 0x70, body),
            8 => subscribe(body, peer, routes),
            12 => peer.send(&[0xD0, 0x00]),
            14 => return Err(io::ErrorKind::ConnectionAborted.into()),
            _ => {}
        }
        buf.advance(len);
    }
    Ok(())
}

fn connect(body: &[u8], peer: &Peer) {
    peer.v5.set(brokkr_codec::connect_level(body) == Some(5));
    if peer.v5.get() {
        peer.send(&[0x20, 0x03, 0x00, 0x00, 0x00]);
    } else {
        peer.send(&[0x20, 0x02, 0x00, 0x00]);
    }
}

fn reply(peer: &Peer, first_byte: u8, body: &[u8]) {
    if let Some([a, b]) = be16(body, 0) {
        peer.send(&[first_byte, 0x02, a, b]);
    }
}

fn publish(packet: &[u8], body: &[u8], flags: u8, peer: &Peer, routes: &Routes) {
    let Some(topic_len) = be16(body, 0).map(|b| usize::from(u16::from_be_bytes(b))) else {
        return;
    };
    let Some(topic) = body.get(2..2 + topic_len) else {
        return;
    };
    if let Some(subs) = routes.borrow().get(topic) {
        subs.iter().for_each(|s| s.send(packet));
    }
    if let Some(subs) = routes.borrow().get(&b"#"[..]) {
        subs.iter().for_each(|s| s.send(packet));
    }
    match (flags >> 1) & 3 {
        1 => reply(peer, 0x40, body.get(2 + topic_len..).unwrap_or_default()),
        2 => reply(peer, 0x50, body.get(2 + topic_len..).unwrap_or_default()),
        _ => {}
    }
}

/// One filter per SUBSCRIBE (what the generator sends); MQTT 3.1.1 and 5 (whose SUBACK then
/// carries an empty property block).
fn subscribe(body: &[u8], peer: &Rc<Peer>, routes: &Routes) {
    let Some([a, b]) = be16(body, 0) else {
        return;
    };
    // The filter follows the id (3.1.1), or the id and a one-byte empty property block (5).
    let v5 = peer.v5.get();
    let at = if v5 { 3 } else { 2 };
    let Some(len) = be16(body, at).map(|l| usize::from(u16::from_be_bytes(l))) else {
        return;
    };
    let Some(filter) = body.get(at + 2..at + 2 + len) else {
        return;
    };
    let qos = body.get(at + 2 + len).map_or(0, |o| o & 3);
    routes
        .borrow_mut()
        .entry(filter.to_vec())
        .or_default()
        .push(Rc::clone(peer));
    if v5 {
        peer.send(&[0x90, 0x04, a, b, 0x00, qos]);
    } else {
        peer.send(&[0x90, 0x03, a, b, qos]);
    }
}
