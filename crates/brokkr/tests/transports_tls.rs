//! TLS listeners with real clients, run against brokkr or FlashMQ (`BROKKR_TRANSPORT_PEER`):
//! mosquitto_pub/sub with `--cafile` and `--cert/--key`, paho-mqtt, `openssl s_client`.
//! Covers `fullchain`/`privkey`, `minimum_tls_version`, `client_verification_ca_file`/`_dir`
//! with the certificate CN as the username, `client_verification_still_do_authn`, and
//! certificates replaced on SIGHUP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod transport;

use common::{TempDir, free_port, listen_block, signal};
use std::time::{Duration, Instant};
use transport::broker::{self, Broker, Peer, Ready};
use transport::clients::{Via, paho_round_trip, publish, publish_ok, subscribe};
use transport::pki::{self, Pki};

/// The listener lines that make a listener TLS with the test server certificate.
fn tls_lines(pki: &Pki) -> String {
    format!(
        "  fullchain {}\n  privkey {}",
        pki.server.cert.display(),
        pki.server.key.display()
    )
}

/// Certificates in `dir/pki`, then a broker on `preamble + global` and `listeners` (each a
/// port and the lines inside its listen block). None when the gate skips brokkr.
fn start(
    name: &str,
    global: &str,
    listeners: impl Fn(&Pki) -> Vec<(u16, String)>,
) -> Option<(Broker, Pki)> {
    let dir = TempDir::new(&format!("tls-{name}"));
    let pki = Pki::new(&dir.0.join("pki"));
    let mut config = format!("{}{global}\n", broker::preamble(&dir.0));
    let mut ready = Vec::new();
    for (port, lines) in listeners(&pki) {
        config.push_str(&listen_block(port, &lines));
        ready.push(Ready::Tcp(port));
    }
    let b = broker::start(Peer::from_env(), dir, &config, &ready, name)?;
    Some((b, pki))
}

#[test]
fn tls_round_trip_with_cafile() {
    let port = free_port();
    let Some((_b, pki)) = start("cafile", "", |pki| vec![(port, tls_lines(pki))]) else {
        return;
    };
    let via = Via::tls(port, &pki.ca);
    let sub = subscribe(&via, "tls/#").ok();
    publish_ok(&via, "tls/a", "over TLS");
    sub.expect("tls/a", "over TLS", 10);
    // Plain MQTT to the TLS port gets no CONNACK.
    let plain = publish(&Via::tcp(port), "tls/b", "in the clear");
    assert!(!plain.status.success(), "plain MQTT accepted on a TLS port");
    // A client that does not trust the server's CA refuses it.
    let untrusted = publish(&Via::tls(port, &pki.dir.join("rogue-ca.pem")), "tls/c", "x");
    assert!(!untrusted.status.success(), "untrusted server accepted");
    assert!(sub.drain(500).is_empty());
}

#[test]
fn paho_over_tls_and_mtls() {
    let (tls, mtls) = (free_port(), free_port());
    let Some((_b, pki)) = start("paho", "", |pki| {
        vec![
            (tls, tls_lines(pki)),
            (
                mtls,
                format!(
                    "{}\n  client_verification_ca_file {}",
                    tls_lines(pki),
                    pki.ca.display()
                ),
            ),
        ]
    }) else {
        return;
    };
    let ca = pki.ca.to_str().unwrap();
    for v311 in [false, true] {
        let mut args = vec![
            "--host",
            "localhost",
            "--ca",
            ca,
            "--payload",
            "paho over TLS",
        ];
        let port = tls.to_string();
        args.extend(["--port", &port]);
        if v311 {
            args.push("--v311");
        }
        paho_round_trip(&args, "paho over TLS");
    }
    let port = mtls.to_string();
    paho_round_trip(
        &[
            "--host",
            "localhost",
            "--port",
            &port,
            "--ca",
            ca,
            "--cert",
            pki.alice.cert.to_str().unwrap(),
            "--key",
            pki.alice.key.to_str().unwrap(),
            "--payload",
            "paho over mTLS",
        ],
        "paho over mTLS",
    );
}

/// Everyone may write; alice alone reads `secret/#`; `users/<username>/#` is readable by that
/// user only.
const ACL: &str = "pattern write #\npattern read users/%u/#\nuser alice\ntopic read secret/#\n";

#[test]
fn mtls_certificate_cn_is_the_username() {
    let (plain, mtls_file, mtls_dir) = (free_port(), free_port(), free_port());
    let acl_line = |pki: &Pki| format!("mosquitto_acl_file {}", pki.dir.join("acl").display());
    let dir = TempDir::new("tls-mtls-acl");
    let pki = Pki::new(&dir.0.join("pki"));
    std::fs::write(pki.dir.join("acl"), ACL).unwrap();
    let config = format!(
        "{}{}\n{}{}{}",
        broker::preamble(&dir.0),
        acl_line(&pki),
        listen_block(plain, ""),
        listen_block(
            mtls_file,
            &format!(
                "{}\n  client_verification_ca_file {}",
                tls_lines(&pki),
                pki.ca.display()
            )
        ),
        listen_block(
            mtls_dir,
            &format!(
                "{}\n  client_verification_ca_dir {}",
                tls_lines(&pki),
                pki.ca_dir.display()
            )
        ),
    );
    let ready = [plain, mtls_file, mtls_dir].map(Ready::Tcp);
    let Some(_b) = broker::start(Peer::from_env(), dir, &config, &ready, "mtls-acl") else {
        return;
    };
    let alice = Via::tls(mtls_file, &pki.ca).cert(&pki.alice.cert, &pki.alice.key);
    let alice_by_dir = Via::tls(mtls_dir, &pki.ca).cert(&pki.alice.cert, &pki.alice.key);
    let bob = Via::tls(mtls_file, &pki.ca).cert(&pki.bob.cert, &pki.bob.key);
    let subs = [&alice, &alice_by_dir, &bob].map(|via| subscribe(via, "#").ok());
    let publisher = Via::tcp(plain);
    for topic in ["other/x", "users/bob/x", "users/alice/x", "secret/a"] {
        publish_ok(&publisher, topic, "m");
    }
    // Deliveries keep the publisher's order; secret/a comes last, users/bob/x before it.
    let alice_got = subs[0].expect("secret/a", "m", 10);
    assert_eq!(alice_got, ["users/alice/x m", "secret/a m"]);
    let alice_dir_got = subs[1].expect("secret/a", "m", 10);
    assert_eq!(alice_dir_got, ["users/alice/x m", "secret/a m"]);
    let bob_got = subs[2].expect("users/bob/x", "m", 10);
    assert_eq!(bob_got, ["users/bob/x m"]);
    assert!(
        subs[2].drain(500).is_empty(),
        "bob read more than his topic"
    );
    // No certificate, or alice's name from a CA nobody trusts: refused in the handshake.
    for (who, via) in [
        ("no certificate", Via::tls(mtls_file, &pki.ca)),
        (
            "rogue certificate",
            Via::tls(mtls_file, &pki.ca).cert(&pki.rogue.cert, &pki.rogue.key),
        ),
        (
            "rogue certificate (CA dir)",
            Via::tls(mtls_dir, &pki.ca).cert(&pki.rogue.cert, &pki.rogue.key),
        ),
    ] {
        let out = publish(&via, "secret/b", "should not pass");
        assert!(!out.status.success(), "{who}: accepted");
    }
    assert!(subs[0].drain(500).is_empty(), "a refused client published");
}

#[test]
fn mtls_still_do_authn_checks_the_password_too() {
    let port = free_port();
    let dir = TempDir::new("tls-authn");
    let pki = Pki::new(&dir.0.join("pki"));
    let passwd = pki.dir.join("passwd");
    let ok = std::process::Command::new("mosquitto_passwd")
        .args(["-c", "-b", passwd.to_str().unwrap(), "alice", "wonderland"])
        .status()
        .expect("mosquitto_passwd (Debian package mosquitto): run scripts/install-deps.sh");
    assert!(ok.success());
    let config = format!(
        "{}mosquitto_password_file {}\n{}",
        broker::preamble(&dir.0),
        passwd.display(),
        listen_block(
            port,
            &format!(
                "{}\n  client_verification_ca_file {}\n  client_verification_still_do_authn true",
                tls_lines(&pki),
                pki.ca.display()
            )
        )
    );
    let Some(_b) = broker::start(
        Peer::from_env(),
        dir,
        &config,
        &[Ready::Tcp(port)],
        "mtls-authn",
    ) else {
        return;
    };
    let alice = Via::tls(port, &pki.ca).cert(&pki.alice.cert, &pki.alice.key);
    let sub = subscribe(&alice.with(&["-u", "alice", "-P", "wonderland"]), "a/#").ok();
    publish_ok(
        &alice.with(&["-u", "alice", "-P", "wonderland"]),
        "a/1",
        "with password",
    );
    sub.expect("a/1", "with password", 10);
    let wrong = publish(&alice.with(&["-u", "alice", "-P", "nope"]), "a/2", "x");
    assert!(!wrong.status.success(), "a wrong password passed");
    assert!(sub.drain(500).is_empty());
}

#[test]
fn minimum_tls_version_13_refuses_tls_12() {
    let port = free_port();
    let Some((_b, pki)) = start("tls13", "", |pki| {
        vec![(
            port,
            format!("{}\n  minimum_tls_version tlsv1.3", tls_lines(pki)),
        )]
    }) else {
        return;
    };
    // mosquitto's `--tls-version tlsv1.2` is a floor, not a ceiling (it still offers 1.3), so
    // the TLS 1.2-only client is `openssl s_client -tls1_2`.
    let (ok12, proto12) = pki::handshake(port, &pki.ca, "-tls1_2");
    assert!(!ok12, "a TLS 1.2-only client was accepted ({proto12})");
    let (ok13, proto13) = pki::handshake(port, &pki.ca, "-tls1_3");
    assert!(ok13 && proto13 == "TLSv1.3", "TLS 1.3: {ok13} {proto13}");
    let via = Via::tls(port, &pki.ca).with(&["--tls-version", "tlsv1.3"]);
    let sub = subscribe(&via, "v/#").ok();
    publish_ok(&via, "v/13", "TLS 1.3");
    assert_eq!(sub.expect("v/13", "TLS 1.3", 10), ["v/13 TLS 1.3"]);
}

/// Without `minimum_tls_version`, TLS 1.2 clients are served (FlashMQ's floor is 1.1,
/// brokkr's 1.2).
#[test]
fn default_minimum_serves_tls_12() {
    let port = free_port();
    let Some((_b, pki)) = start("tls12", "", |pki| vec![(port, tls_lines(pki))]) else {
        return;
    };
    let (ok12, proto12) = pki::handshake(port, &pki.ca, "-tls1_2");
    assert!(ok12 && proto12 == "TLSv1.2", "TLS 1.2: {ok12} {proto12}");
}

#[test]
fn sighup_replaces_the_certificate_and_keeps_connections() {
    let port = free_port();
    let Some((b, pki)) = start("hup", "", |pki| vec![(port, tls_lines(pki))]) else {
        return;
    };
    let before = pki::presented_certificate(port, &pki.ca);
    assert!(before.contains("serial=1001"), "{before}");
    let via = Via::tls(port, &pki.ca);
    let mut sub = subscribe(&via, "hup/#").ok();
    // The new certificate and key replace the old files' contents, then SIGHUP.
    let new = pki.another_server("server-new", "3001", "localhost-reloaded");
    common::replace(
        &pki.server.cert,
        &std::fs::read_to_string(&new.cert).unwrap(),
    );
    common::replace(&pki.server.key, &std::fs::read_to_string(&new.key).unwrap());
    signal(b.pid(), "-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let seen = pki::presented_certificate(port, &pki.ca);
        if seen.contains("serial=3001") || Instant::now() > deadline {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        after.contains("serial=3001") && after.contains("localhost-reloaded"),
        "a new connection still sees: {after}"
    );
    // The connection made before the reload still works; a new one with the new
    // certificate publishes to it.
    assert!(sub.alive());
    publish_ok(&via, "hup/after", "still here");
    sub.expect("hup/after", "still here", 10);
}
