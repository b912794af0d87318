//! CPU time and resident memory of a process from `/proc`: the broker under test (by the PID
//! this tool started) and the generator itself (`/proc/self`). Linux only; a missing or
//! unreadable file gives `None`, never an error that stops a run.

use std::time::Instant;

/// Windows shorter than this get no CPU share: at 100 ticks/s the error would exceed 4%.
pub const CPU_WINDOW_SECS_MIN: f64 = 0.25;

/// Clock ticks per second for `/proc/PID/stat` (USER_HZ; 100 on every Linux we run on).
pub const TICKS_PER_SEC: f64 = 100.0;

fn stat_path(pid: Option<u32>) -> String {
    pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    )
}

/// utime + stime in clock ticks, all threads (`None`: the process is gone).
pub fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let text = std::fs::read_to_string(stat_path(pid)).ok()?;
    parse_cpu_ticks(&text)
}

/// utime + stime from the text of a `stat` file (fields 14 and 15, after the command name,
/// which may itself hold spaces and parentheses).
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Resident set size in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_rss_bytes(&text)
}

/// `VmRSS` in bytes from the text of a `status` file.
pub fn parse_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Busy ticks of the whole machine (all CPUs: everything but idle and iowait) from
/// `/proc/stat`.
pub fn machine_busy_ticks() -> Option<u64> {
    parse_machine_busy(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Busy ticks from the text of `/proc/stat` (its first, aggregate `cpu` line).
pub fn parse_machine_busy(stat: &str) -> Option<u64> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = v.iter().sum();
    let idle = v.get(3)? + v.get(4)?;
    total.checked_sub(idle)
}

/// CPU use over a measurement window, as a fraction of one core.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Wall time of the window.
    pub wall_secs: f64,
    /// The broker's CPU (all its threads), when its PID is known.
    pub broker_cpu: Option<f64>,
    /// The generator's own CPU (all its threads).
    pub gen_cpu: Option<f64>,
    /// Everything else on the machine (other users' compilers and fuzzers): busy CPU of the
    /// whole machine minus broker and generator, in cores. Near 0 on a quiet machine.
    pub others_cpu: Option<f64>,
}

/// Starts a measurement window; [`Meter::stop`] ends it.
#[derive(Debug, Clone, Copy)]
pub struct Meter {
    start: Instant,
    broker: Option<(u32, Option<u64>)>,
    own: Option<u64>,
    machine: Option<u64>,
}

impl Meter {
    /// Open a window now.
    pub fn start(broker_pid: Option<u32>) -> Meter {
        Meter {
            start: Instant::now(),
            broker: broker_pid.map(|p| (p, cpu_ticks(Some(p)))),
            own: cpu_ticks(None),
            machine: machine_busy_ticks(),
        }
    }

    /// Close the window now.
    pub fn stop(&self) -> Usage {
        let wall_secs = self.start.elapsed().as_secs_f64();
        let share = |before: Option<u64>, after: Option<u64>| {
            let ticks = after?.checked_sub(before?)?;
            (wall_secs >= CPU_WINDOW_SECS_MIN).then(|| ticks as f64 / TICKS_PER_SEC / wall_secs)
        };
        let broker_cpu = self
            .broker
            .and_then(|(pid, before)| share(before, cpu_ticks(Some(pid))));
        let gen_cpu = share(self.own, cpu_ticks(None));
        let machine = share(self.machine, machine_busy_ticks());
        Usage {
            wall_secs,
            broker_cpu,
            gen_cpu,
            others_cpu: machine
                .map(|m| (m - broker_cpu.unwrap_or(0.0) - gen_cpu.unwrap_or(0.0)).max(0.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
    }

    #[test]
    fn parses_vmrss() {
        let status = "Name:\tx\nVmPeak:\t 100 kB\nVmRSS:\t    2048 kB\nThreads:\t1\n";
        assert_eq!(parse_rss_bytes(status), Some(2048 * 1024));
    }

    #[test]
    fn parses_machine_busy_ticks() {
        let stat = "cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 1 2 3 4 5 6 7 8\n";
        assert_eq!(parse_machine_busy(stat), Some(160));
    }

    #[test]
    fn own_process_is_readable() {
        assert!(cpu_ticks(None).is_some());
        assert!(rss_bytes(std::process::id()).is_some());
    }
}
