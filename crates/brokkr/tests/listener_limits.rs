//! Per-listener `max_qos` and `mqtt3_qos_exceed_action` through the real binary and
//! mosquitto's clients, on two listeners of one broker, and a SIGHUP that changes them for new
//! connections.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{TempDir, free_port, listen_block, replace, signal, spawn};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Kills the broker (a process this test started, by PID) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Global `max_qos 1`; listener `low` overrides it with 0 and drops what exceeds it. The log
/// goes to `log`; `subscription_node_lifetime` has no effect and says so there.
fn config(log: &std::path::Path, open: u16, low: u16, low_max_qos: u8) -> String {
    format!(
        "allow_anonymous true\nmax_qos 1\nsubscription_node_lifetime 60\nlog_file {}\n{}{}",
        log.display(),
        listen_block(open, ""),
        listen_block(
            low,
            &format!("  max_qos {low_max_qos}\n  mqtt3_qos_exceed_action drop")
        )
    )
}

fn run(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("5")
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The QoS the broker grants an MQTT 5 subscription asking for 2 (`Subscribed (mid: 1): N`).
fn granted(port: u16) -> String {
    try_granted(port).unwrap_or_else(|out| panic!("no SUBACK in {out}"))
}

/// As [`granted`]; what mosquitto_sub printed if it got no SUBACK.
fn try_granted(port: u16) -> Result<String, String> {
    let p = port.to_string();
    let o = run(&[
        "mosquitto_sub",
        "-p",
        &p,
        "-V",
        "mqttv5",
        "-q",
        "2",
        "-t",
        "t",
        "-d",
        "-W",
        "1",
    ]);
    let out = text(&o);
    out.lines()
        .find_map(|l| l.strip_prefix("Subscribed (mid: 1): "))
        .map(str::to_string)
        .ok_or(out)
}

/// mosquitto_pub at QoS `qos` over `version`, with `-d` (its packets in the output).
fn publish(port: u16, version: &str, qos: &str, payload: &str) -> String {
    let p = port.to_string();
    text(&run(&[
        "mosquitto_pub",
        "-p",
        &p,
        "-V",
        version,
        "-q",
        qos,
        "-t",
        "t",
        "-m",
        payload,
        "-d",
    ]))
}

#[test]
fn each_listener_has_its_own_max_qos_and_exceed_action() {
    let dir = TempDir::new("listener-limits");
    let (open, low) = (free_port(), free_port());
    let conf = dir.0.join("brokkr.conf");
    let log = dir.0.join("brokkr.log");
    std::fs::write(&conf, config(&log, open, low, 0)).unwrap();
    let broker = Running(spawn(&conf, open, Stdio::null()));
    common::wait_listening(low);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains(":3: `subscription_node_lifetime` has no effect in brokkr: "),
        "{logged}"
    );

    assert_eq!(granted(open), "1", "the global max_qos");
    assert_eq!(granted(low), "0", "the listener's own");

    // MQTT 5: CONNACK told mosquitto_pub the listener's Maximum QoS, so it does not even send.
    let out = publish(low, "mqttv5", "1", "v5");
    assert!(out.contains("QoS not supported"), "{out}");
    assert!(!publish(open, "mqttv5", "1", "v5").contains("QoS not supported"));

    // MQTT 3.1.1 above the maximum: `drop` on `low` acknowledges (and discards), while the
    // global `disconnect` on `open` closes without acknowledging.
    let mut watcher = Command::new("mosquitto_sub")
        .args(["-p", &open.to_string(), "-t", "t", "-v"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = publish(low, "mqttv311", "1", "dropped");
    assert!(out.contains("received PUBACK"), "{out}");
    let out = publish(open, "mqttv311", "2", "refused");
    assert!(!out.contains("received PUBREC"), "{out}");
    let out = publish(open, "mqttv311", "1", "delivered");
    assert!(out.contains("received PUBACK"), "{out}");
    std::thread::sleep(Duration::from_millis(300));
    let _ = watcher.kill();
    let seen = watcher.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&seen.stdout), "t delivered\n");

    // A reload gives the listener a new maximum, for new connections (the changed listener
    // is bound anew meanwhile: a refused connection is retried).
    replace(&conf, &config(&log, open, low, 1));
    signal(broker.0.id(), "-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while try_granted(low).as_deref() != Ok("1") {
        assert!(Instant::now() < deadline, "the reload did not apply");
        std::thread::sleep(Duration::from_millis(100));
    }
}
