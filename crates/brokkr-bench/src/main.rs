//! The `brokkr-bench` binary: parses the command line and runs `run`, `compare` or `relay`.

#![forbid(unsafe_code)]

use brokkr_bench::broker::Spec;
use brokkr_bench::cli::{Cli, Cmd};
use brokkr_bench::compare::{self, Plan};
use brokkr_bench::{broker, relay, report, scenario, table};
use clap::Parser as _;
use std::io::{self, Write as _};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("brokkr-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> io::Result<()> {
    match cli.command {
        Cmd::Relay { port, mio: true } => relay::serve_mio(([127, 0, 0, 1], port).into()),
        Cmd::Relay { port, mio: false } => {
            let rt = scenario::runtime()?;
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, relay::serve(([127, 0, 0, 1], port).into()))
        }
        Cmd::Run {
            addr,
            broker_pid,
            load,
        } => {
            if !addr.ip().is_loopback() {
                return Err(io::Error::other("loopback addresses only"));
            }
            let rt = scenario::runtime()?;
            let mut out = io::stdout().lock();
            for w in load.workloads().map_err(io::Error::other)? {
                let o = scenario::run(&rt, addr, &w, broker_pid)?;
                let rss = o
                    .get("rss_bytes")
                    .filter(|v| v.is_finite())
                    .map(|v| v as u64);
                writeln!(out, "{}", report::round_line(1, "external", &w, &o, rss))?;
                eprintln!(
                    "{:<40} {:>10} {}  gen cpu {}",
                    w.label(),
                    report::human(Some(o.value)),
                    w.scenario.metric().0,
                    report::human(o.usage.gen_cpu.map(|c| c * 100.0)),
                );
            }
            Ok(())
        }
        Cmd::Table {
            file,
            baseline,
            per_cpu,
        } => {
            let text = std::fs::read_to_string(file)?;
            let figure = if per_cpu {
                table::Figure::PerBrokerCpu
            } else {
                table::Figure::Median
            };
            print!("{}", table::markdown(&text, &baseline, figure));
            Ok(())
        }
        Cmd::Compare {
            brokers,
            baseline,
            rounds,
            threads,
            no_pin,
            broker_cpu,
            gen_cpu,
            dir,
            json,
            load,
        } => {
            let brokers: Vec<Spec> = brokers
                .iter()
                .map(|b| Spec::parse(b, threads))
                .collect::<Result<_, _>>()
                .map_err(io::Error::other)?;
            let baseline = baseline
                .or_else(|| brokers.first().map(|b| b.name.clone()))
                .unwrap_or_default();
            let plan = Plan {
                brokers,
                workloads: load.workloads().map_err(io::Error::other)?,
                rounds: rounds.clamp(1, 50),
                pin: (!no_pin).then_some((broker_cpu, gen_cpu)),
                baseline,
                dir,
            };
            spawn_signal_cleanup()?;
            let mut human = io::stderr().lock();
            match json {
                Some(path) => {
                    let mut file = io::BufWriter::new(std::fs::File::create(path)?);
                    compare::run(&plan, &mut file, &mut human)?;
                    file.flush()
                }
                None => compare::run(&plan, &mut io::stdout().lock(), &mut human),
            }
        }
    }
}

/// On SIGINT or SIGTERM: kill the brokers this process started, then exit (130).
fn spawn_signal_cleanup() -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            rt.block_on(async {
                let Ok(mut term) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                else {
                    return;
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            });
            broker::kill_all_started();
            std::process::exit(130);
        })?;
    Ok(())
}
