//! What the server's socket tests share: a broker on a free loopback port, run on its own
//! thread until dropped, and a blocking byte-level MQTT client.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use brokkr_codec::{ConnAck, Connect, Packet, ProtocolVersion, framer};
use brokkr_core::limits::Limits;
use brokkr_server::{ListenerSpec, ServerConfig, run_until};
use bytes::BytesMut;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A free loopback port (bound and released at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait until something accepts on `port` (at most 10 s).
pub fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "broker on {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// brokkr on 127.0.0.1, stopped (gracefully, as by SIGTERM) when dropped.
pub struct Broker {
    pub port: u16,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Broker {
    /// With `workers` worker threads, on a free port.
    pub fn start(workers: usize) -> Broker {
        Broker::start_on(free_port(), workers)
    }

    /// With `workers` worker threads, on `port`.
    pub fn start_on(port: u16, workers: usize) -> Broker {
        Broker::start_with(port, workers, Limits::default())
    }

    /// With `workers` worker threads and `limits`, on `port`.
    pub fn start_with(port: u16, workers: usize, limits: Limits) -> Broker {
        Broker::start_transport(port, workers, limits, Default::default())
    }

    /// With `workers` worker threads and `limits`, on `port` with `transport` (websockets, TLS,
    /// PROXY).
    #[allow(dead_code)] // not every test binary uses every transport
    pub fn start_transport(
        port: u16,
        workers: usize,
        limits: Limits,
        transport: brokkr_server::transport::TransportSpec,
    ) -> Broker {
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let config = ServerConfig {
            listeners: vec![ListenerSpec {
                tcp_nodelay: true,
                transport: std::sync::Arc::new(transport),
                ..ListenerSpec::tcp(addr)
            }],
            limits,
            seed: 1,
            workers,
            access: None,
            access_source: None,
            persistence: None,
            overload: Default::default(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            run_until(config, async move {
                let _ = rx.await;
            })
            .unwrap();
        });
        wait_listening(port);
        Broker {
            port,
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// Stop gracefully and wait for every worker to finish.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// A blocking MQTT client speaking raw packets.
pub struct Client {
    stream: TcpStream,
    pub v: ProtocolVersion,
    inbox: BytesMut,
}

impl Client {
    /// A TCP connection, nothing sent yet.
    pub fn open(addr: SocketAddr, v: ProtocolVersion) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            v,
            inbox: BytesMut::new(),
        }
    }

    /// Connect with `connect` and return the CONNACK (panics on anything else).
    pub fn connect(addr: SocketAddr, v: ProtocolVersion, connect: Connect) -> (Client, ConnAck) {
        let mut c = Client::open(addr, v);
        c.send(&Packet::Connect(Box::new(connect)));
        match c.recv(Duration::from_secs(5)) {
            Some(Packet::ConnAck(ack)) => (c, ack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Write bytes as they are.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The socket, for tests that read it raw.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    pub fn send(&mut self, p: &Packet) {
        let bytes = brokkr_testkit::build::encode(p, self.v);
        self.stream.write_all(&bytes).unwrap();
    }

    /// The next packet, or `None` if the broker closed the connection or nothing came within
    /// `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> Option<Packet> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(raw) = framer::next_packet(&mut self.inbox, usize::MAX).unwrap() {
                return Some(Packet::decode(raw, self.v).unwrap());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let mut buf = [0u8; 16 * 1024];
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.inbox.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None;
                }
                Err(_) => return None,
            }
        }
    }
}
