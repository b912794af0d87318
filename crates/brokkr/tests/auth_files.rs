//! Password and ACL files through the real binary and real clients: a password file written
//! by Debian's mosquitto_passwd, FlashMQ's default `allow_anonymous false`, an ACL file with
//! `user`, `topic` and `pattern` lines, and both files reloaded when they change.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{free_port, listen_block, replace, spawn};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Broker {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(name: &str, extra: &str, files: &[(&str, &str)]) -> Broker {
    start_listening(name, extra, "", files)
}

/// As [`start`], with `listen_extra` lines inside the listen block.
fn start_listening(name: &str, extra: &str, listen_extra: &str, files: &[(&str, &str)]) -> Broker {
    let dir = std::env::temp_dir().join(format!("brokkr-auth-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let port = free_port();
    let conf = dir.join("brokkr.conf");
    let global = extra.replace("{dir}", dir.to_str().unwrap());
    std::fs::write(
        &conf,
        format!("{global}\n{}", listen_block(port, listen_extra)),
    )
    .unwrap();
    let child = spawn(&conf, port, Stdio::null());
    Broker { child, port, dir }
}

fn passwd_file(dir: &Path, users: &[(&str, &str)]) -> PathBuf {
    let path = dir.join("passwd");
    for (i, (user, pw)) in users.iter().enumerate() {
        let mut cmd = Command::new("mosquitto_passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        let ok = cmd
            .args(["-b", path.to_str().unwrap(), user, pw])
            .status()
            .expect("mosquitto_passwd (Debian package mosquitto): run scripts/install-deps.sh");
        assert!(ok.success());
    }
    path
}

fn publish(b: &Broker, creds: &[&str], topic: &str, msg: &str) -> Output {
    Command::new("timeout")
        .args([
            "5",
            "mosquitto_pub",
            "-h",
            "127.0.0.1",
            "-p",
            &b.port.to_string(),
        ])
        .args(creds)
        .args(["-q", "1", "-t", topic, "-m", msg])
        .output()
        .unwrap()
}

/// Subscribe to `filter` (waiting for the SUBACK), publish each of `sends` (credentials,
/// topic), and return the topics the subscriber got until a second passes without one.
fn route(b: &Broker, sub_creds: &[&str], filter: &str, sends: &[(&[&str], &str)]) -> Vec<String> {
    use std::io::BufRead;
    // Line-buffered (coreutils' stdbuf execs the program in place, same PID), so the SUBACK
    // line arrives as it happens rather than when the pipe's buffer fills.
    let mut sub = Command::new("stdbuf")
        .args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &b.port.to_string(),
        ])
        .args(sub_creds)
        .args(["-t", filter, "-v", "-d", "-W", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = sub.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // -d prints the SUBACK: only then can a publish be routed to this subscriber.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("SUBACK") => break,
            Ok(_) => {}
            Err(_) => panic!("mosquitto_sub got no SUBACK"),
        }
    }
    for (creds, topic) in sends {
        let _ = publish(b, creds, topic, "m");
    }
    let mut got = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
        // Debug lines start with "Client "; `-v` lines are "topic payload".
        if !line.starts_with("Client ") && !line.starts_with("Subscribed") {
            got.push(line.split(' ').next().unwrap_or_default().to_string());
        }
    }
    let _ = sub.kill(); // the child this test started
    let _ = sub.wait();
    got
}

#[test]
fn mosquitto_password_file_and_flashmq_default_refusal() {
    let dir = std::env::temp_dir().join(format!("brokkr-auth-pw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let passwd = passwd_file(&dir, &[("alice", "wonderland"), ("bob", "builder")]);
    let text = std::fs::read_to_string(&passwd).unwrap();
    let b = start(
        "pw",
        "mosquitto_password_file {dir}/passwd",
        &[("passwd", &text)],
    );
    let ok = publish(&b, &["-u", "alice", "-P", "wonderland"], "t", "hi");
    assert!(ok.status.success(), "{ok:?}");
    let wrong = publish(&b, &["-u", "alice", "-P", "nope"], "t", "hi");
    assert!(!wrong.status.success());
    let unknown = publish(&b, &["-u", "carol", "-P", "x"], "t", "hi");
    assert!(!unknown.status.success());
    // No allow_anonymous line: FlashMQ's default, false.
    let anonymous = publish(&b, &[], "t", "hi");
    assert!(!anonymous.status.success());
    assert!(
        String::from_utf8_lossy(&anonymous.stderr).contains("not authorised")
            || String::from_utf8_lossy(&anonymous.stderr).contains("not authorized"),
        "{anonymous:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn acl_file_with_users_patterns_and_a_reload() {
    let acl = "\
topic read public/#
user alice
topic readwrite fleet/#
topic deny fleet/secret
pattern write devices/%u/status
";
    let b = start(
        "acl",
        "allow_anonymous true\nmosquitto_acl_file {dir}/acl",
        &[("acl", acl)],
    );
    let alice: &[&str] = &["-u", "alice"];
    let anon: &[&str] = &[];
    // alice writes fleet/a and devices/alice/status; fleet/secret and devices/bob/status are
    // not hers; anonymous clients write nothing.
    let got = route(
        &b,
        alice,
        "#",
        &[
            (alice, "fleet/a"),
            (alice, "fleet/secret"),
            (alice, "devices/alice/status"),
            (alice, "devices/bob/status"),
            (anon, "fleet/b"),
        ],
    );
    assert_eq!(
        got,
        ["fleet/a"],
        "alice reads only fleet/# (pattern lines grant write)"
    );
    // Reads: anonymous clients read public/#, but nothing under fleet/.
    let got = route(&b, anon, "#", &[(alice, "fleet/c")]);
    assert!(got.is_empty(), "{got:?}");
    // Reload: grant anonymous clients fleet/# for reading; the broker sees it within seconds.
    replace(&b.dir.join("acl"), &format!("topic read fleet/#\n{acl}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = route(&b, anon, "fleet/#", &[(alice, "fleet/d")]);
        if got == ["fleet/d"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new ACL never applied: {got:?}"
        );
    }
    // A broken ACL keeps the old rules.
    replace(&b.dir.join("acl"), "frobnicate everything\n");
    std::thread::sleep(Duration::from_secs(3));
    let got = route(&b, anon, "fleet/#", &[(alice, "fleet/e")]);
    assert_eq!(got, ["fleet/e"]);
}

#[test]
fn sighup_reloads_the_config_and_a_broken_one_changes_nothing() {
    let b = start("hup", "allow_anonymous true", &[]);
    let anon: &[&str] = &[];
    assert!(publish(&b, anon, "t", "1").status.success());
    let conf = b.dir.join("brokkr.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let hup = |b: &Broker| {
        let ok = Command::new("kill")
            .args(["-HUP", &b.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        std::thread::sleep(Duration::from_millis(500));
    };
    // allow_anonymous false: anonymous clients are refused after SIGHUP.
    replace(
        &conf,
        &text.replace("allow_anonymous true", "allow_anonymous false"),
    );
    hup(&b);
    assert!(!publish(&b, anon, "t", "2").status.success());
    // A config with a typo: logged, nothing changes, the broker keeps running.
    replace(
        &conf,
        &text.replace("allow_anonymous true", "allow_anonymus true"),
    );
    hup(&b);
    assert!(!publish(&b, anon, "t", "3").status.success());
    // Back to true.
    replace(&conf, &text);
    hup(&b);
    assert!(publish(&b, anon, "t", "4").status.success());
}

#[test]
fn only_allow_from_and_deny_from_are_checked_at_accept() {
    let anon: &[&str] = &[];
    let allowed = start_listening(
        "nets-ok",
        "allow_anonymous true",
        "  only_allow_from 127.0.0.0/8",
        &[],
    );
    assert!(publish(&allowed, anon, "t", "1").status.success());
    let denied = start_listening(
        "nets-deny",
        "allow_anonymous true",
        "  only_allow_from 127.0.0.0/8\n  deny_from 127.0.0.1",
        &[],
    );
    assert!(!publish(&denied, anon, "t", "1").status.success());
    let elsewhere = start_listening(
        "nets-other",
        "allow_anonymous true",
        "  only_allow_from 10.0.0.0/8",
        &[],
    );
    assert!(!publish(&elsewhere, anon, "t", "1").status.success());
}

#[test]
fn sighup_adds_and_removes_listeners() {
    let b = start("listeners", "allow_anonymous true", &[]);
    let conf = b.dir.join("brokkr.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let second = free_port();
    // Add a second listener.
    let with_second = format!("{text}{}", listen_block(second, ""));
    replace(&conf, &with_second);
    let hup = |b: &Broker| {
        assert!(
            Command::new("kill")
                .args(["-HUP", &b.child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
    };
    hup(&b);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", second)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the added listener never accepted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let on_second = Command::new("timeout")
        .args([
            "5",
            "mosquitto_pub",
            "-h",
            "127.0.0.1",
            "-p",
            &second.to_string(),
        ])
        .args(["-t", "t", "-m", "via the new listener"])
        .status()
        .unwrap();
    assert!(on_second.success());
    // An established connection on the first listener survives the change.
    let mut kept = std::net::TcpStream::connect(("127.0.0.1", b.port)).unwrap();
    // Keep only the second listener: the first stops accepting.
    let only_second = text.replace(&listen_block(b.port, ""), &listen_block(second, ""));
    assert_ne!(only_second, text);
    replace(&conf, &only_second);
    hup(&b);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", b.port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the removed listener still accepts"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", second)).is_ok());
    use std::io::Write;
    let connect = [
        0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 1, b'k',
    ];
    kept.write_all(&connect).unwrap();
    let mut ack = [0u8; 4];
    use std::io::Read;
    kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    kept.read_exact(&mut ack).unwrap();
    assert_eq!(
        ack,
        [0x20, 2, 0, 0],
        "the established connection still works"
    );
}
