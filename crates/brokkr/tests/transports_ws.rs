//! Websocket listeners (`protocol websockets`, ws and wss) with real clients, run against
//! brokkr or FlashMQ (`BROKKR_TRANSPORT_PEER`): MQTT.js inside headless Chromium, paho-mqtt
//! with `transport="websockets"`, and a hand-written client for what real clients never send
//! (text frames, close frames, pings, MQTT packets split across frames, X-Real-IP).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod transport;

use common::{TempDir, free_port, listen_block};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use transport::broker::{self, Broker, Peer, Ready};
use transport::clients::{Via, paho_round_trip, publish_ok, repo_tests_dir, subscribe};
use transport::pki::Pki;
use transport::ws;

/// Ports of a broker with a plain MQTT listener, a ws listener and a wss listener.
struct Ports {
    tcp: u16,
    ws: u16,
    wss: u16,
}

/// A broker with MQTT, ws and wss listeners and `global` lines. None when the gate skips.
fn start(name: &str, global: &str) -> Option<(Broker, Pki, Ports)> {
    let dir = TempDir::new(&format!("ws-{name}"));
    let pki = Pki::new(&dir.0.join("pki"));
    let p = Ports {
        tcp: free_port(),
        ws: free_port(),
        wss: free_port(),
    };
    let config = format!(
        "{}{global}\n{}{}{}",
        broker::preamble(&dir.0),
        listen_block(p.tcp, ""),
        listen_block(p.ws, "  protocol websockets"),
        listen_block(
            p.wss,
            &format!(
                "  protocol websockets\n  fullchain {}\n  privkey {}",
                pki.server.cert.display(),
                pki.server.key.display()
            )
        ),
    );
    let ready = [p.tcp, p.ws, p.wss].map(Ready::Tcp);
    let b = broker::start(Peer::from_env(), dir, &config, &ready, name)?;
    Some((b, pki, p))
}

#[test]
fn paho_over_ws_and_wss() {
    let Some((_b, pki, p)) = start("paho", "") else {
        return;
    };
    let ws_port = p.ws.to_string();
    for version in [&[][..], &["--v311"][..]] {
        let mut args = vec!["--transport", "websockets", "--port", &ws_port];
        args.extend_from_slice(version);
        args.extend(["--payload", "paho over ws"]);
        paho_round_trip(&args, "paho over ws");
    }
    let wss_port = p.wss.to_string();
    paho_round_trip(
        &[
            "--transport",
            "websockets",
            "--host",
            "localhost",
            "--port",
            &wss_port,
            "--ca",
            pki.ca.to_str().unwrap(),
            "--payload",
            "paho over wss",
        ],
        "paho over wss",
    );
}

/// MQTT.js in Chromium connects to `url`, subscribes to `prefix/#`, publishes one message that
/// a mosquitto_sub on plain TCP must see, and receives one mosquitto_pub sends over TCP.
fn browser_round_trip(url: &str, tcp_port: u16, prefix: &str, spki: Option<String>) {
    let browser_dir = repo_tests_dir().join("browser");
    assert!(
        browser_dir.join("node_modules/mqtt").exists(),
        "tests/browser/node_modules is missing: run scripts/install-deps.sh"
    );
    let tcp = Via::tcp(tcp_port);
    let watcher = subscribe(&tcp, &format!("{prefix}/from-browser")).ok();
    let mut node = Command::new("timeout")
        .args(["90", "node", "mqtt_in_chromium.mjs", url, prefix])
        .args(spki)
        .current_dir(&browser_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = node.stdout.take().unwrap();
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
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if line == "READY" {
            publish_ok(&tcp, &format!("{prefix}/from-tcp"), "tcp-to-browser");
        }
        lines.push(line);
    }
    let out = node.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for want in [
        format!("GOT {prefix}/from-tcp tcp-to-browser"),
        format!("GOT {prefix}/from-browser browser-to-broker"),
        "DONE 2".to_string(),
    ] {
        assert!(
            lines.contains(&want),
            "the browser did not print `{want}`: {lines:?}\n{stderr}"
        );
    }
    assert!(out.status.success(), "{}: {lines:?}\n{stderr}", out.status);
    watcher.expect(&format!("{prefix}/from-browser"), "browser-to-broker", 10);
}

#[test]
fn mqtt_js_in_chromium_over_ws() {
    let Some((_b, _pki, p)) = start("chromium-ws", "") else {
        return;
    };
    browser_round_trip(&format!("ws://127.0.0.1:{}/mqtt", p.ws), p.tcp, "ws", None);
}

#[test]
fn mqtt_js_in_chromium_over_wss() {
    let Some((_b, pki, p)) = start("chromium-wss", "") else {
        return;
    };
    let url = format!("wss://localhost:{}/mqtt", p.wss);
    browser_round_trip(&url, p.tcp, "wss", Some(pki.server_spki_sha256()));
}

#[test]
fn upgrade_answers_the_rfc_6455_accept_and_the_mqtt_subprotocol() {
    let Some((_b, _pki, p)) = start("upgrade", "") else {
        return;
    };
    let (_s, head) = ws::upgrade(p.ws, "");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(
        ws::header(&head, "Sec-WebSocket-Accept"),
        Some(ws::SAMPLE_ACCEPT)
    );
    assert_eq!(ws::header(&head, "Sec-WebSocket-Protocol"), Some("mqtt"));
    assert!(
        ws::header(&head, "Upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")),
        "{head}"
    );
}

#[test]
fn mqtt_6_0_0_1_text_frame_closes_the_connection() {
    let Some((_b, _pki, p)) = start("text", "") else {
        return;
    };
    let sub = subscribe(&Via::tcp(p.tcp), "will/#").ok();
    let mut s = ws::mqtt_session(p.ws, "raw-text", Some(("will/text", "text-frame-will")));
    ws::send(&mut s, ws::OP_TEXT, &ws::PINGREQ);
    let closed = ws::read_until_closed(&mut s, 10);
    assert!(
        closed.is_some(),
        "the connection stayed open after a text frame"
    );
    let rest = closed.unwrap();
    assert!(
        !rest.windows(2).any(|w| w == ws::PINGRESP),
        "the text frame's PINGREQ was answered: {rest:?}"
    );
    // Closed without DISCONNECT: the will fires.
    sub.expect("will/text", "text-frame-will", 10);
}

#[test]
fn close_frame_fires_the_will() {
    let Some((b, _pki, p)) = start("close", "") else {
        return;
    };
    let sub = subscribe(&Via::tcp(p.tcp), "will/#").ok();
    let mut s = ws::mqtt_session(p.ws, "raw-close", Some(("will/close", "close-frame-will")));
    ws::send(&mut s, ws::OP_CLOSE, &1000u16.to_be_bytes());
    let closed = ws::read_until_closed(&mut s, 10);
    assert!(
        closed.is_some(),
        "the connection stayed open after a close frame"
    );
    // RFC 6455 section 5.5.1: the endpoint answers a close frame with one before closing.
    // FlashMQ 1.26 closes the TCP connection without it; brokkr must answer.
    let rest = closed.unwrap();
    if b.peer == Peer::Brokkr {
        assert_eq!(
            rest.first(),
            Some(&(0x80 | ws::OP_CLOSE)),
            "no close frame echoed: {rest:?}"
        );
    }
    sub.expect("will/close", "close-frame-will", 10);
}

#[test]
fn ping_gets_a_pong_with_the_same_payload() {
    let Some((_b, _pki, p)) = start("ping", "") else {
        return;
    };
    let mut s = ws::mqtt_session(p.ws, "raw-ping", None);
    ws::send(&mut s, ws::OP_PING, b"are you there");
    let (op, payload) = ws::read_frame(&mut s);
    assert_eq!(
        (op, payload.as_slice()),
        (ws::OP_PONG, &b"are you there"[..])
    );
    // And MQTT's own ping, inside a binary frame.
    ws::send(&mut s, ws::OP_BINARY, &ws::PINGREQ);
    let (op, payload) = ws::read_frame(&mut s);
    assert_eq!((op, payload.as_slice()), (ws::OP_BINARY, &ws::PINGRESP[..]));
}

#[test]
fn packets_split_across_frames_and_joined_in_one_frame() {
    let Some((_b, _pki, p)) = start("split", "") else {
        return;
    };
    let sub = subscribe(&Via::tcp(p.tcp), "split/#").ok();
    let mut s = ws::mqtt_session(p.ws, "raw-split", None);
    // One PUBLISH in three frames, cut inside the fixed header and inside the topic.
    let first = ws::publish("split/a", b"cut in three");
    for part in [&first[..1], &first[1..5], &first[5..]] {
        ws::send(&mut s, ws::OP_BINARY, part);
    }
    // Two PUBLISHes in one frame.
    let mut two = ws::publish("split/b", b"second");
    two.extend(ws::publish("split/c", b"third"));
    ws::send(&mut s, ws::OP_BINARY, &two);
    let got = sub.expect("split/c", "third", 10);
    assert_eq!(
        got,
        ["split/a cut in three", "split/b second", "split/c third"]
    );
}

/// `websocket_set_real_ip_from` trusts X-Real-IP from the networks it names, and only from
/// them; X-Forwarded-For is never used. Seen in the log line that names the client.
#[test]
fn x_real_ip_only_from_trusted_networks() {
    let Some((trusted, _pki, p)) = start("realip", "websocket_set_real_ip_from 127.0.0.1/32")
    else {
        return;
    };
    let headers = "X-Real-IP: 10.9.8.7\r\nX-Forwarded-For: 10.9.8.6\r\n";
    let (mut s, head) = ws::upgrade(p.ws, headers);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    ws::send(&mut s, ws::OP_BINARY, &ws::connect("raw-real-ip", None));
    assert_eq!(ws::read_frame(&mut s).1, ws::CONNACK_OK);
    let line = trusted.wait_log_line(&["raw-real-ip", "10.9.8.7"], 10);
    assert!(
        line.is_some(),
        "no log line names 10.9.8.7:\n{}",
        trusted.log_text()
    );
    assert!(
        !trusted.log_text().contains("10.9.8.6"),
        "X-Forwarded-For was used"
    );

    let Some((untrusted, _pki, p)) = start("realip-no", "websocket_set_real_ip_from 10.0.0.0/8")
    else {
        return;
    };
    let (mut s, _) = ws::upgrade(p.ws, "X-Real-IP: 10.9.8.5\r\n");
    ws::send(&mut s, ws::OP_BINARY, &ws::connect("raw-untrusted", None));
    assert_eq!(ws::read_frame(&mut s).1, ws::CONNACK_OK);
    let line = untrusted.wait_log_line(&["raw-untrusted", "127.0.0.1"], 10);
    assert!(
        line.is_some(),
        "no log line names the client:\n{}",
        untrusted.log_text()
    );
    assert!(
        !untrusted.log_text().contains("10.9.8.5"),
        "X-Real-IP from an untrusted peer was used"
    );
}
