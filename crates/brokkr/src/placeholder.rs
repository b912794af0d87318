//! A placeholder listener for the embedded default config, until the broker core lands.
//!
//! It listens where the real broker will (127.0.0.1:1883 and [::1]:1883), reads each client's
//! first packet with the production framer and decoder, and answers a CONNECT with a refusal that
//! says why: CONNACK "Server unavailable" (MQTT 5 reason 0x88 with a reason string, 3.x return
//! code 3). Anything else is closed. It never pretends to be a broker. Bounded: at most
//! [`CONNECTIONS_MAX`] connections at once, [`FIRST_PACKET_BYTES_MAX`] bytes read from each, and
//! a read timeout.

use brokkr_codec::{ConnAck, MqttString, Packet, ProtocolVersion, ReasonCode, framer};
use bytes::BytesMut;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Connections served at once; more are closed on accept.
pub const CONNECTIONS_MAX: usize = 64;
/// Bytes read from a client before its CONNECT must be complete.
pub const FIRST_PACKET_BYTES_MAX: usize = 64 * 1024;
/// How long a client may take to send its CONNECT.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const REASON: &str = "brokkr: the broker core is not built yet; this listener only checks CONNECT";

/// Listen on the default addresses until the process is stopped.
pub fn serve_default() -> std::io::Result<()> {
    let addrs: [SocketAddr; 2] = [
        (Ipv4Addr::LOCALHOST, 1883).into(),
        (Ipv6Addr::LOCALHOST, 1883).into(),
    ];
    let mut listeners = Vec::new();
    for addr in addrs {
        match TcpListener::bind(addr) {
            Ok(l) => listeners.push(l),
            Err(e) => eprintln!("brokkr: cannot listen on {addr}: {e}"),
        }
    }
    if listeners.is_empty() {
        return Err(std::io::Error::other(
            "no listener could be opened on port 1883",
        ));
    }
    eprintln!(
        "brokkr {}: no config file, using the embedded defaults: MQTT on {}, anonymous \
         clients allowed (loopback only).",
        env!("CARGO_PKG_VERSION"),
        listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(" and ")
    );
    eprintln!(
        "brokkr: NOTE: the broker core is not built yet. CONNECT is answered with 'Server \
         unavailable' (MQTT 5 reason 0x88, MQTT 3.x return code 3)."
    );
    let active = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for listener in listeners {
        let active = Arc::clone(&active);
        handles.push(std::thread::spawn(move || accept_loop(&listener, &active)));
    }
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}

/// Accept connections on `listener` forever.
pub fn accept_loop(listener: &TcpListener, active: &Arc<AtomicUsize>) {
    for stream in listener.incoming().flatten() {
        if active.fetch_add(1, Ordering::SeqCst) >= CONNECTIONS_MAX {
            active.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let active = Arc::clone(active);
        std::thread::spawn(move || {
            let peer = stream.peer_addr().ok();
            if let Err(e) = answer(stream) {
                eprintln!("brokkr: client {peer:?}: {e}");
            }
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Read one client's first packet and answer it.
pub fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(CONNECT_TIMEOUT))?;
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 4096];
    let raw = loop {
        match framer::next_packet(&mut buf, FIRST_PACKET_BYTES_MAX) {
            Ok(Some(raw)) => break raw,
            Ok(None) => {}
            Err(e) => return Err(std::io::Error::other(format!("closed: {e}"))),
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let connect = match Packet::decode(raw, ProtocolVersion::V3_1_1) {
        Ok(Packet::Connect(c)) => c,
        Ok(other) => {
            let e = format!(
                "closed: first packet is {:?}, not CONNECT",
                other.packet_type()
            );
            return Err(std::io::Error::other(e));
        }
        Err(e) => return Err(std::io::Error::other(format!("closed: {e}"))),
    };
    let version = connect.protocol.0;
    let mut ack = ConnAck {
        reason: ReasonCode::ServerUnavailable,
        ..Default::default()
    };
    ack.properties.reason_string = MqttString::new(REASON).ok();
    let mut out = BytesMut::new();
    Packet::ConnAck(ack)
        .encode(version, &mut out)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    stream.write_all(&out)?;
    eprintln!(
        "brokkr: refused client '{}' ({version:?}): broker core not built yet",
        connect.client_id
    );
    Ok(())
}
