//! One entry point for every scenario: [`run`] picks the scenario's module and runs it on the
//! calling thread's current-thread runtime (the latency scenario uses its own blocking threads).

use crate::transport::Dialer;
use crate::workload::{Outcome, Scenario, Workload};
use crate::{connections, latency, retained, throughput};
use std::io;

/// Run `w` against the broker `d` reaches (`broker_pid`: for CPU and RSS sampling).
pub fn run(
    rt: &tokio::runtime::Runtime,
    d: &Dialer,
    w: &Workload,
    broker_pid: Option<u32>,
) -> io::Result<Outcome> {
    if w.scenario == Scenario::Latency {
        return latency::run(d, w, broker_pid);
    }
    let local = tokio::task::LocalSet::new();
    local.block_on(rt, async {
        match w.scenario {
            Scenario::FanIn | Scenario::FanOut | Scenario::Pairs => {
                throughput::run(d, w, broker_pid).await
            }
            Scenario::Storm => connections::storm(d, w, broker_pid).await,
            Scenario::Idle => connections::idle(d, w, broker_pid).await,
            Scenario::Retained | Scenario::Latency => retained::run(d, w, broker_pid).await,
        }
    })
}

/// The generator's runtime: one thread, timers and sockets.
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
