//! The systemd notify protocol through the real binary: READY=1 once listening, RELOADING=1
//! then READY=1 around SIGHUP, STOPPING=1 at SIGTERM, WATCHDOG=1 when the unit asks for it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn notify_socket_hears_ready_reloading_watchdog_and_stopping() {
    let dir = std::env::temp_dir().join(format!("brokkr-sd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket_path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.join("brokkr.conf");
    std::fs::write(
        &conf,
        format!(
            "allow_anonymous true\nlisten {{\n  port {port}\n  inet_protocol ip4\n  inet4_bind_address 127.0.0.1\n}}\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_brokkr"))
        .args(["--config-file", conf.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // WATCHDOG_PID unset: the watchdog applies to this process.
    let mut buf = [0u8; 512];
    let mut next = || {
        let n = socket.recv(&mut buf).expect("a notification within 10 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert_eq!(next(), "READY=1\n");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "listening when READY=1 is sent"
    );
    assert_eq!(next(), "WATCHDOG=1\n", "a ping at half of 400 ms");
    let signal = |sig: &str| {
        assert!(
            Command::new("kill")
                .args([sig, &child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
    };
    signal("-HUP");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let n = next();
        if n != "WATCHDOG=1\n" {
            seen.push(n);
        }
    }
    assert!(
        seen[0].starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{seen:?}"
    );
    assert_eq!(seen[1], "READY=1\n");
    signal("-TERM");
    loop {
        let n = next();
        if n != "WATCHDOG=1\n" {
            assert_eq!(n, "STOPPING=1\n");
            break;
        }
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}
