//! What one run does: the scenario, protocol version, QoS, payload size, client count and the
//! bounds in time and count, plus the result every scenario returns. Defaults follow issue 6
//! (64-byte payloads, MQTT 3.1.1, TCP_NODELAY on, plain TCP); `--quick` shrinks every bound to
//! seconds.

use crate::transport::TransportKind;
use brokkr_codec::{ProtocolVersion, QoS};
use std::time::Duration;

/// The scenarios of issue 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Scenario {
    /// N publishers, one subscriber, one topic.
    FanIn,
    /// One publisher, N subscribers, one topic.
    FanOut,
    /// N publisher/subscriber pairs on distinct topics.
    Pairs,
    /// One publisher at a fixed rate, one subscriber: p50/p99/p99.9 from the intended send time.
    Latency,
    /// N clients connecting at once: connects per second to a full CONNACK.
    Storm,
    /// N retained messages, then the time a new `#` subscriber takes to receive them all.
    Retained,
    /// N idle connections: broker RSS per connection.
    Idle,
}

impl Scenario {
    /// Name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::FanIn => "fan-in",
            Scenario::FanOut => "fan-out",
            Scenario::Pairs => "pairs",
            Scenario::Latency => "latency",
            Scenario::Storm => "storm",
            Scenario::Retained => "retained",
            Scenario::Idle => "idle",
        }
    }

    /// The headline figure's name and unit, and whether more is better.
    pub fn metric(self) -> (&'static str, bool) {
        match self {
            Scenario::FanIn | Scenario::FanOut | Scenario::Pairs => ("deliveries/s", true),
            Scenario::Latency => ("p99 µs", false),
            Scenario::Storm => ("connects/s", true),
            Scenario::Retained => ("ms to receive all", false),
            Scenario::Idle => ("RSS bytes/connection", false),
        }
    }

    /// Scenarios that need broker logic the relay does not have (retained store) or measure
    /// broker memory.
    pub fn relay_can_run(self) -> bool {
        !matches!(self, Scenario::Retained | Scenario::Idle)
    }
}

/// One run's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub scenario: Scenario,
    pub version: ProtocolVersion,
    pub qos: QoS,
    pub payload_bytes: usize,
    /// Publishers (fan-in), subscribers (fan-out), pairs, or connections (storm, idle).
    pub clients: usize,
    /// Retained messages (retained), or messages per second (latency).
    pub count: u64,
    /// Time before the measurement window (throughput, latency).
    pub warmup: Duration,
    /// The measurement window.
    pub measure: Duration,
    /// Deliveries allowed on the way (sent but not yet received) in throughput scenarios.
    pub window: u64,
    pub tcp_nodelay: bool,
    /// What carries the MQTT bytes (TCP, TLS, websockets, both).
    pub transport: TransportKind,
    /// Connection handshakes in progress at once (storm, idle).
    pub handshakes: usize,
}

/// Payload bounds of issue 6.
pub const PAYLOAD_BYTES_MIN: usize = 16;
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;
/// Handshakes in progress at once, at most.
pub const HANDSHAKES_MAX: usize = 1024;
/// Clients per run, at most (file descriptors: each is one on both sides).
pub const CLIENTS_MAX: usize = 15_000;

impl Workload {
    /// The settings for `scenario` (full length, or `quick`: a few seconds).
    pub fn standard(scenario: Scenario, qos: QoS, quick: bool) -> Workload {
        let (clients, count) = match scenario {
            Scenario::FanIn | Scenario::FanOut | Scenario::Pairs => (16, 0),
            Scenario::Latency => (1, 20_000),
            Scenario::Storm | Scenario::Idle => (if quick { 1000 } else { 10_000 }, 0),
            Scenario::Retained => (1, if quick { 10_000 } else { 100_000 }),
        };
        Workload {
            scenario,
            version: ProtocolVersion::V3_1_1,
            qos,
            payload_bytes: 64,
            clients,
            count,
            warmup: Duration::from_millis(if quick { 300 } else { 1000 }),
            measure: Duration::from_millis(if quick { 1000 } else { 4000 }),
            window: 4096,
            tcp_nodelay: true,
            transport: TransportKind::Tcp,
            handshakes: crate::connections::CONCURRENCY,
        }
    }

    /// Clamp every field into its bounds.
    pub fn bounded(mut self) -> Workload {
        self.payload_bytes = self
            .payload_bytes
            .clamp(PAYLOAD_BYTES_MIN, PAYLOAD_BYTES_MAX);
        self.clients = self.clients.clamp(1, CLIENTS_MAX);
        self.measure = self
            .measure
            .clamp(Duration::from_millis(100), Duration::from_secs(120));
        self.warmup = self.warmup.min(Duration::from_secs(30));
        self.window = self.window.clamp(16, 1 << 20);
        self.handshakes = self.handshakes.clamp(1, HANDSHAKES_MAX);
        self.count = match self.scenario {
            Scenario::Latency => self.count.clamp(10, 1_000_000),
            _ => self.count.min(10_000_000),
        };
        self
    }

    /// A short label: scenario, QoS, protocol, payload (and rate for latency), and the
    /// transport unless it is plain TCP.
    pub fn label(&self) -> String {
        let v = if self.version.is_v5() { "v5" } else { "v3.1.1" };
        let mut s = format!(
            "{} qos{} {} {}B",
            self.scenario.name(),
            self.qos.as_u8(),
            v,
            self.payload_bytes
        );
        match self.scenario {
            Scenario::Latency => s.push_str(&format!(" {}/s", self.count)),
            Scenario::Retained => s.push_str(&format!(" {} msgs", self.count)),
            _ => s.push_str(&format!(" n={}", self.clients)),
        }
        if matches!(self.scenario, Scenario::Storm | Scenario::Idle)
            && self.handshakes != crate::connections::CONCURRENCY
        {
            s.push_str(&format!(" h={}", self.handshakes));
        }
        if self.transport != TransportKind::Tcp {
            s.push(' ');
            s.push_str(self.transport.name());
        }
        s
    }
}

/// What a scenario measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// The headline figure (see [`Scenario::metric`]).
    pub value: f64,
    /// Further figures by name (p50_us, sent, delivered, lost, rss_bytes, ...).
    pub extra: Vec<(&'static str, f64)>,
    /// CPU use over the measurement window.
    pub usage: crate::procfs::Usage,
}

impl Outcome {
    /// A further figure by name.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.extra.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}
