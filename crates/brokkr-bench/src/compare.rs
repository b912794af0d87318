//! The comparative mode: for every round, every workload, every broker in turn (A, B, C, A, B,
//! C, ...), start the broker fresh, pinned to its CPU, run the workload with the generator on the
//! other CPU, sample CPU and RSS, stop the broker. Then medians per (workload, broker), the
//! ratio to the baseline broker of the same run, and the rounds where the generator reached
//! [`crate::stats::GEN_SATURATED_CPU`] and so may have been the bottleneck.
//!
//! Each broker listens with the workload's transport. For tls and wss one CA and server
//! certificate are made per run (`DIR/tls/`), given to every broker and trusted by the
//! generator. The relay speaks plain TCP only: it is skipped for the other transports, with a
//! note.

use crate::broker::{self, Kind, Listener, Running, Spec};
use crate::pki::{self, KeyKind, PkiFiles};
use crate::report;
use crate::stats::{self, Sample};
use crate::tls::{self, TlsClient};
use crate::transport::Dialer;
use crate::workload::Workload;
use crate::{procfs, scenario};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A broker process lives at most this long (one workload).
pub const BROKER_LIFETIME: Duration = Duration::from_secs(300);

/// What to compare.
#[derive(Debug, Clone)]
pub struct Plan {
    pub brokers: Vec<Spec>,
    pub workloads: Vec<Workload>,
    pub rounds: usize,
    /// CPU for the brokers and for the generator; `None`: unpinned.
    pub pin: Option<(usize, usize)>,
    /// Name of the broker the ratios are relative to.
    pub baseline: String,
    /// Configs and broker logs (and the certificates of the tls and wss transports).
    pub dir: PathBuf,
    /// Key of the server certificate made for tls and wss.
    pub tls_key: KeyKind,
}

/// Pin this process (all threads) to `cpu` with taskset.
pub fn pin_self(cpu: usize) -> io::Result<()> {
    let status = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other("taskset failed"))
    }
}

/// Run the plan; JSON lines go to `json`, tables and progress to `human`.
pub fn run(plan: &Plan, json: &mut dyn Write, human: &mut dyn Write) -> io::Result<()> {
    if let Some((_, gen_cpu)) = plan.pin {
        pin_self(gen_cpu)?;
    }
    let rt = scenario::runtime()?;
    let tls = tls_for(plan)?;
    let mut noted = Vec::new();
    let mut samples = vec![vec![Vec::<Sample>::new(); plan.brokers.len()]; plan.workloads.len()];
    for round in 1..=plan.rounds {
        for (wi, w) in plan.workloads.iter().enumerate() {
            for (bi, b) in plan.brokers.iter().enumerate() {
                if b.kind == Kind::Relay && !w.scenario.relay_can_run() {
                    continue;
                }
                if !b.supports(w.transport) {
                    if !noted.contains(&(bi, w.transport)) {
                        noted.push((bi, w.transport));
                        let t = w.transport.name();
                        writeln!(human, "note: {} speaks tcp only, skipped over {t}", b.name)?;
                    }
                    continue;
                }
                let (line, sample) = match one(&rt, plan, b, w, round, tls.as_ref()) {
                    Ok(r) => r,
                    Err(e) => {
                        writeln!(human, "round {round} {} {}: error: {e}", b.name, w.label())?;
                        continue;
                    }
                };
                writeln!(json, "{line}")?;
                writeln!(
                    human,
                    "round {round} {:<12} {:<36} {:>10}  broker cpu {}  gen cpu {}  others {}",
                    b.name,
                    w.label(),
                    report::human(Some(sample.value)),
                    report::human(sample.broker_cpu.map(|c| c * 100.0)),
                    report::human(sample.gen_cpu.map(|c| c * 100.0)),
                    report::human(sample.others_cpu.map(|c| c * 100.0)),
                )?;
                if let Some(slot) = samples.get_mut(wi).and_then(|s| s.get_mut(bi)) {
                    slot.push(sample);
                }
            }
        }
    }
    summarize(plan, &samples, json, human)
}

/// The run's certificates and the generator's TLS settings, if a workload needs TLS.
fn tls_for(plan: &Plan) -> io::Result<Option<(PkiFiles, TlsClient)>> {
    if !plan.workloads.iter().any(|w| w.transport.is_tls()) {
        return Ok(None);
    }
    let files = pki::write(&plan.dir.join("tls"), plan.tls_key)?;
    let client = TlsClient::new(&files.ca, tls::SERVER_NAME_DEFAULT)?;
    Ok(Some((files, client)))
}

fn one(
    rt: &tokio::runtime::Runtime,
    plan: &Plan,
    b: &Spec,
    w: &Workload,
    round: usize,
    tls: Option<&(PkiFiles, TlsClient)>,
) -> io::Result<(String, Sample)> {
    let port = broker::free_port()?;
    let cpu = plan.pin.map(|(c, _)| c);
    let listener = Listener {
        transport: w.transport,
        tls: tls.map(|(files, _)| files.clone()),
        spare_port: if w.transport.is_ws() {
            Some(broker::free_port()?)
        } else {
            None
        },
    };
    let running = Running::start(b, (port, &listener), cpu, &plan.dir, BROKER_LIFETIME)?;
    let dialer = Dialer::new(running.addr, w.transport, tls.map(|(_, c)| c.clone()))?;
    let outcome = scenario::run(rt, &dialer, w, Some(running.pid))?;
    let rss = outcome
        .get("rss_bytes")
        .filter(|v| v.is_finite())
        .map(|v| v as u64)
        .or_else(|| procfs::rss_bytes(running.pid));
    drop(running);
    let line = report::round_line(round, &b.name, w, &outcome, rss);
    let sample = Sample {
        value: outcome.value,
        broker_cpu: outcome.usage.broker_cpu,
        gen_cpu: outcome.usage.gen_cpu,
        broker_rss_bytes: rss,
        others_cpu: outcome.usage.others_cpu,
    };
    Ok((line, sample))
}

fn summarize(
    plan: &Plan,
    samples: &[Vec<Vec<Sample>>],
    json: &mut dyn Write,
    human: &mut dyn Write,
) -> io::Result<()> {
    let base = plan.brokers.iter().position(|b| b.name == plan.baseline);
    for (w, per_broker) in plan.workloads.iter().zip(samples) {
        writeln!(human, "{}", report::table_header(w, &plan.baseline))?;
        let base_value = base
            .and_then(|i| per_broker.get(i))
            .and_then(|s| stats::summarize(s).value);
        for (b, s) in plan.brokers.iter().zip(per_broker) {
            if s.is_empty() {
                continue;
            }
            let summary = stats::summarize(s);
            let ratio = summary
                .value
                .zip(base_value)
                .and_then(|(v, base)| stats::ratio(v, base));
            writeln!(
                json,
                "{}",
                report::summary_line(&b.name, w, &summary, ratio)
            )?;
            writeln!(human, "{}", report::table_row(&b.name, &summary, ratio))?;
        }
    }
    Ok(())
}
