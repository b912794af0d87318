//! The command line: `run` (one workload against a running broker), `compare` (brokers started
//! fresh per round, interleaved, with medians and ratios) and `relay` (the built-in relay, which
//! `compare` starts as a child). Raw flags are parsed by clap, then turned into [`Workload`]s.

use crate::pki::KeyKind;
use crate::transport::TransportKind;
use crate::workload::{Scenario, Workload};
use brokkr_codec::{ProtocolVersion, QoS};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "brokkr-bench",
    about = "MQTT broker load generator and comparison"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run workloads against a broker that is already running.
    Run {
        /// Broker address (loopback only).
        #[arg(long, default_value = "127.0.0.1:1883")]
        addr: SocketAddr,
        /// The broker's PID, for CPU and RSS sampling (the idle scenario needs it).
        #[arg(long)]
        broker_pid: Option<u32>,
        /// PEM file of the CA that signed the broker's certificate (tls and wss).
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// The name to verify in the broker's certificate (and to send as SNI).
        #[arg(long, default_value = crate::tls::SERVER_NAME_DEFAULT)]
        server_name: String,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Start each broker fresh per round, interleave rounds, print medians and ratios.
    Compare {
        /// Broker: [NAME=]KIND[@THREADS][:PATH], KIND one of brokkr, flashmq, mosquitto,
        /// relay, cmd (`cmd:PROGRAM ARGS` with {port} and {config}). Repeat; order is round
        /// order.
        #[arg(long = "broker", required = true)]
        brokers: Vec<String>,
        /// The broker the ratios are relative to (default: the first).
        #[arg(long)]
        baseline: Option<String>,
        /// Rounds per workload and broker (medians over them).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Worker threads in the generated configs.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Do not pin: brokers and generator share all CPUs.
        #[arg(long)]
        no_pin: bool,
        /// CPU for the broker; the generator takes `--gen-cpu`.
        #[arg(long, default_value_t = 0)]
        broker_cpu: usize,
        #[arg(long, default_value_t = 1)]
        gen_cpu: usize,
        /// Directory for generated configs and broker logs.
        #[arg(long, default_value = "target/brokkr-bench")]
        dir: PathBuf,
        /// Write JSON lines here instead of stdout (the tables still go to stderr).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Key of the server certificate made for the tls and wss transports.
        #[arg(long, value_enum, default_value = "ecdsa-p256")]
        tls_key: KeyKind,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Markdown table (workloads x brokers, ratios to the baseline) from `compare --json` output.
    Table {
        file: PathBuf,
        #[arg(long, default_value = "flashmq")]
        baseline: String,
        /// Throughput per second of broker CPU (per round, then the median) instead of medians.
        #[arg(long)]
        per_cpu: bool,
    },
    /// The trivial relay (framing only): the machine's upper bound.
    Relay {
        #[arg(long)]
        port: u16,
        /// Run the relay on a bare mio event loop instead of tokio (the runtime measurement
        /// of ARCHITECTURE.md).
        #[arg(long)]
        mio: bool,
    },
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Scenarios to run (repeat or comma-separate).
    #[arg(long = "scenario", value_enum, value_delimiter = ',')]
    pub scenarios: Vec<Scenario>,
    /// Issue 6's targets table: fan-in, fan-out, pairs at QoS 0 and 1, latency at 20k/s at
    /// QoS 0 and 1, storm and idle with 10k clients, 100k retained messages.
    #[arg(long)]
    pub targets: bool,
    /// QoS levels (comma-separated) for the message scenarios.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub qos: Vec<u8>,
    /// Transports (comma-separated): tcp, tls, ws (websockets), wss (websockets on TLS). Each
    /// workload runs over each.
    #[arg(
        long = "transport",
        value_enum,
        value_delimiter = ',',
        default_value = "tcp"
    )]
    pub transports: Vec<TransportKind>,
    /// MQTT version: 3.1.1 or 5.
    #[arg(long, default_value = "3.1.1")]
    pub mqtt: String,
    /// Payload bytes (16 to 65536).
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Clients on the variable side (publishers, subscribers, pairs, connections).
    #[arg(long)]
    pub clients: Option<usize>,
    /// Messages per second (latency) or retained messages (retained).
    #[arg(long)]
    pub count: Option<u64>,
    /// Measurement window in seconds.
    #[arg(long)]
    pub secs: Option<f64>,
    /// A few seconds per scenario.
    #[arg(long)]
    pub quick: bool,
    /// Leave Nagle's algorithm on.
    #[arg(long)]
    pub no_nodelay: bool,
    /// Connection handshakes in progress at once in storm and idle (default 64: below
    /// Mosquitto's listen backlog of 100, where a dropped SYN is retried after a second).
    #[arg(long)]
    pub handshakes: Option<usize>,
}

impl LoadArgs {
    /// The workloads these flags ask for.
    pub fn workloads(&self) -> Result<Vec<Workload>, String> {
        let version = match self.mqtt.as_str() {
            "3.1.1" | "4" => ProtocolVersion::V3_1_1,
            "5" | "5.0" => ProtocolVersion::V5,
            other => return Err(format!("unknown MQTT version {other:?}")),
        };
        let qos: Vec<QoS> = self
            .qos
            .iter()
            .map(|q| QoS::from_u8(*q).ok_or(format!("no QoS {q}")))
            .collect::<Result<_, _>>()?;
        let mut plan: Vec<(Scenario, QoS)> = Vec::new();
        if self.targets {
            for s in [
                Scenario::FanIn,
                Scenario::FanOut,
                Scenario::Pairs,
                Scenario::Latency,
            ] {
                plan.extend([QoS::AtMostOnce, QoS::AtLeastOnce].map(|q| (s, q)));
            }
            plan.extend(
                [Scenario::Storm, Scenario::Idle, Scenario::Retained].map(|s| (s, QoS::AtMostOnce)),
            );
        }
        for s in &self.scenarios {
            match s {
                Scenario::Storm | Scenario::Idle | Scenario::Retained => {
                    plan.push((*s, QoS::AtMostOnce));
                }
                _ => plan.extend(qos.iter().map(|q| (*s, *q))),
            }
        }
        if plan.is_empty() {
            return Err("no scenario: give --scenario or --targets".into());
        }
        let mut transports: Vec<TransportKind> = Vec::new();
        for t in &self.transports {
            if !transports.contains(t) {
                transports.push(*t);
            }
        }
        let plan = transports
            .iter()
            .flat_map(|t| plan.iter().map(|(s, q)| (*s, *q, *t)));
        let workloads: Vec<Workload> = plan
            .map(|(s, q, transport)| {
                let mut w = Workload::standard(s, q, self.quick);
                w.transport = transport;
                w.version = version;
                w.payload_bytes = self.payload;
                w.tcp_nodelay = !self.no_nodelay;
                if let Some(c) = self.clients.filter(|_| w.clients > 1) {
                    w.clients = c;
                }
                if let Some(c) = self.count.filter(|_| w.count > 0) {
                    w.count = c;
                }
                if let Some(h) = self.handshakes {
                    w.handshakes = h;
                }
                if let Some(secs) = self.secs.filter(|s| s.is_finite() && *s > 0.0) {
                    w.measure = Duration::from_secs_f64(secs.min(120.0));
                }
                w.bounded()
            })
            .collect();
        Ok(workloads)
    }
}
