//! An in-process brokkr for the generator's tests: one listener on a free loopback port, the
//! comparative configs' pending caps, stopped and joined when the guard drops.

use brokkr_core::limits::Limits;
use brokkr_server::transport::TransportSpec;
use brokkr_server::{ListenerSpec, ServerConfig, run_until};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running broker; dropping it stops the broker and waits for its thread.
pub struct Broker {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// Start a one-worker broker whose listener speaks `transport`.
pub fn start_broker(transport: TransportSpec) -> Broker {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let config = ServerConfig {
        listeners: vec![ListenerSpec {
            tcp_nodelay: true,
            transport: Arc::new(transport),
            ..ListenerSpec::tcp(addr)
        }],
        // As the comparative configs: the default pending caps (512 messages, 64 KiB) drop
        // QoS 1 messages under a flood, as FlashMQ does.
        limits: Limits {
            qos_pending_messages_max: 65_535,
            qos_pending_bytes_max: 268_435_456,
            ..Limits::default()
        },
        seed: 1,
        workers: 1,
        access: None,
        access_source: None,
        persistence: None,
        overload: Default::default(),
        run_as: None,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        run_until(config, async move {
            let _ = rx.await;
        })
        .unwrap();
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "broker did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Broker {
        addr,
        stop: Some(tx),
        thread: Some(thread),
    }
}
