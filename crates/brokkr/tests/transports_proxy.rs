//! PROXY protocol listeners (`haproxy on`, `client_verification`,
//! `client_verification_with_authn`) behind Debian's real HAProxy, run against brokkr or
//! FlashMQ (`BROKKR_TRANSPORT_PEER`). mosquitto clients connect to HAProxy, bound to 127.0.0.x
//! source addresses (`-A`), so the source address the broker acts on can only have come from
//! the PROXY header: HAProxy itself always connects from 127.0.0.1. FlashMQ speaks PROXY v2
//! only; the v1 (`send-proxy`) test runs against brokkr alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod transport;

use common::{TempDir, free_port, listen_block};
use transport::broker::{self, Broker, Peer, Ready};
use transport::clients::{Via, publish, publish_ok, subscribe};
use transport::haproxy::{self, Frontend, Haproxy};
use transport::pki::Pki;

/// A plain frontend on a fresh port forwarding to `backend` with `server_opts`.
fn plain_frontend(backend: u16, server_opts: &str) -> Frontend {
    Frontend {
        port: free_port(),
        backend,
        server_opts: server_opts.into(),
        bind_opts: String::new(),
    }
}

/// A broker with a plain listener on `watch` and PROXY listeners (port, lines), then HAProxy
/// with `frontends` (made once the broker listens). None when the gate skips.
fn start(
    name: &str,
    global: &str,
    dir: TempDir,
    watch: u16,
    listeners: &[(u16, String)],
    frontends: &[Frontend],
) -> Option<(Broker, Haproxy)> {
    let mut config = format!(
        "{}{global}\n{}",
        broker::preamble(&dir.0),
        listen_block(watch, "")
    );
    let mut ready = vec![Ready::Tcp(watch)];
    for (port, lines) in listeners {
        config.push_str(&listen_block(*port, lines));
        ready.push(Ready::Tcp(*port));
    }
    let b = broker::start(Peer::from_env(), dir, &config, &ready, name)?;
    let h = haproxy::start(&b.dir.0, frontends);
    Some((b, h))
}

/// The log must name the client `client_id` with address `addr`, as both brokers do in their
/// connection lines; FlashMQ's form is `address='127.0.0.3'`.
fn assert_logged(b: &Broker, client_id: &str, addr: &str) {
    let line = b.wait_log_line(&[client_id, addr], 10);
    assert!(
        line.is_some(),
        "no log line names {client_id} at {addr}:\n{}",
        b.log_text()
    );
    if b.peer == Peer::FlashMq {
        assert!(line.unwrap().contains(&format!("address='{addr}'")));
    }
}

/// `send-proxy-v2`: the source address in the header reaches the log, and brokkr applies
/// `deny_from` and `only_allow_from` to it. FlashMQ 1.26 checks those lists against the TCP
/// peer at accept, which is HAProxy's 127.0.0.1 (it logs "Connection from 127.0.0.1 not
/// allowed"), so there `deny_from 127.0.0.2` lets 127.0.0.2 in and `only_allow_from 127.0.0.3`
/// refuses everyone: asserted per broker. A connection without a header is refused.
#[test]
fn send_proxy_v2_source_address_reaches_the_broker() {
    let dir = TempDir::new("proxy-v2");
    let (watch, open, deny, allow) = (free_port(), free_port(), free_port(), free_port());
    let listeners = [
        (open, "  haproxy on".to_string()),
        (deny, "  haproxy on\n  deny_from 127.0.0.2/32".to_string()),
        (
            allow,
            "  haproxy on\n  only_allow_from 127.0.0.3/32".to_string(),
        ),
    ];
    let frontends = [open, deny, allow].map(|port| plain_frontend(port, "send-proxy-v2"));
    let Some((b, _h)) = start("proxy-v2", "", dir, watch, &listeners, &frontends) else {
        return;
    };
    let brokkr = b.peer == Peer::Brokkr;
    let sub = subscribe(&Via::tcp(watch), "px/#").ok();
    let [f_open, f_deny, f_allow] = &frontends;
    // (frontend, source address, client id, passes)
    let cases = [
        (f_open, "127.0.0.5", "px-open-5", true),
        (f_deny, "127.0.0.1", "px-deny-1", true),
        (f_deny, "127.0.0.2", "px-deny-2", !brokkr),
        (f_allow, "127.0.0.3", "px-allow-3", brokkr),
        (f_allow, "127.0.0.1", "px-allow-1", false),
    ];
    // In parallel: FlashMQ closes refused connections after a random 1 to 5 s.
    let outcomes: Vec<bool> = std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|(f, addr, id, _)| {
                let via = Via::tcp(f.port).with(&["-A", addr, "-i", id]);
                scope.spawn(move || publish(&via, &format!("px/{id}"), id).status.success())
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for ((_, addr, id, passes), got) in cases.iter().zip(&outcomes) {
        assert_eq!(
            got, passes,
            "{id} from {addr}: served {got}, expected {passes}"
        );
    }
    // No PROXY header on a `haproxy on` listener that would allow 127.0.0.1: refused.
    let direct = publish(&Via::tcp(deny).with(&["-i", "px-direct"]), "px/direct", "x");
    assert!(
        !direct.status.success(),
        "a connection without a PROXY header was served"
    );
    let mut got = sub.drain(1000);
    got.sort();
    let mut want: Vec<String> = cases
        .iter()
        .filter(|c| c.3)
        .map(|(_, _, id, _)| format!("px/{id} {id}"))
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert_logged(&b, "px-open-5", "127.0.0.5");
}

/// Everyone may write; alice alone reads `secret/#`; `users/<username>/#` is readable by that
/// user only.
const ACL: &str = "pattern write #\npattern read users/%u/#\nuser alice\ntopic read secret/#\n";

/// TLS terminated at HAProxy (`verify required`), `send-proxy-v2-ssl-cn`: with `haproxy
/// client_verification` the CN is the username; with `client_verification_with_authn` the
/// password file is checked too.
#[test]
fn send_proxy_v2_ssl_cn_is_the_username() {
    let dir = TempDir::new("proxy-ssl-cn");
    let pki = Pki::new(&dir.0.join("pki"));
    std::fs::write(pki.dir.join("acl"), ACL).unwrap();
    let passwd = pki.dir.join("passwd");
    let ok = std::process::Command::new("mosquitto_passwd")
        .args(["-c", "-b", passwd.to_str().unwrap(), "alice", "wonderland"])
        .status()
        .expect("mosquitto_passwd (Debian package mosquitto): run scripts/install-deps.sh");
    assert!(ok.success());
    let global = format!(
        "mosquitto_acl_file {}\nmosquitto_password_file {}",
        pki.dir.join("acl").display(),
        passwd.display()
    );
    let crt = pki.server.combined(&pki.dir.join("haproxy-server.pem"));
    let tls_bind = format!(
        "ssl crt {} ca-file {} verify required",
        crt.display(),
        pki.ca.display()
    );
    let (watch, cv, cv_authn) = (free_port(), free_port(), free_port());
    let listeners = [
        (cv, "  haproxy client_verification".to_string()),
        (
            cv_authn,
            "  haproxy client_verification_with_authn".to_string(),
        ),
    ];
    let tls_frontend = |backend| Frontend {
        port: free_port(),
        backend,
        server_opts: "send-proxy-v2-ssl-cn".into(),
        bind_opts: tls_bind.clone(),
    };
    let (f_cv, f_authn) = (tls_frontend(cv), tls_frontend(cv_authn));
    let frontends = [f_cv.clone(), f_authn.clone()];
    let Some((_b, _h)) = start("proxy-ssl-cn", &global, dir, watch, &listeners, &frontends) else {
        return;
    };
    let alice = Via::tls(f_cv.port, &pki.ca).cert(&pki.alice.cert, &pki.alice.key);
    let bob = Via::tls(f_cv.port, &pki.ca).cert(&pki.bob.cert, &pki.bob.key);
    // bob's certificate with alice's name in CONNECT: the CN wins.
    let bob_as_alice = bob.with(&["-u", "alice"]);
    let subs = [&alice, &bob, &bob_as_alice].map(|via| subscribe(via, "#").ok());
    let publisher = Via::tcp(watch);
    for topic in ["other/x", "users/bob/x", "users/alice/x", "secret/a"] {
        publish_ok(&publisher, topic, "m");
    }
    let alice_reads = ["secret/a m", "users/alice/x m"];
    assert_eq!(subs[0].expect_all(&alice_reads, 10), alice_reads);
    for bob_sub in &subs[1..] {
        assert_eq!(
            bob_sub.expect_all(&["users/bob/x m"], 10),
            ["users/bob/x m"]
        );
    }
    for sub in &subs {
        assert!(
            sub.drain(500).is_empty(),
            "a client read more than its topics"
        );
    }
    // client_verification_with_authn: alice's certificate and her password.
    let alice_authn = Via::tls(f_authn.port, &pki.ca).cert(&pki.alice.cert, &pki.alice.key);
    publish_ok(
        &alice_authn.with(&["-u", "alice", "-P", "wonderland"]),
        "secret/authn",
        "with password",
    );
    subs[0].expect("secret/authn", "with password", 10);
    let wrong = publish(
        &alice_authn.with(&["-u", "alice", "-P", "nope"]),
        "secret/no",
        "x",
    );
    assert!(!wrong.status.success(), "a wrong password passed");
    // HAProxy refuses the rogue certificate and a client without one.
    let rogue = Via::tls(f_cv.port, &pki.ca).cert(&pki.rogue.cert, &pki.rogue.key);
    assert!(!publish(&rogue, "secret/rogue", "x").status.success());
    assert!(
        !publish(&Via::tls(f_cv.port, &pki.ca), "secret/none", "x")
            .status
            .success()
    );
    assert!(subs[0].drain(500).is_empty(), "a refused client published");
}

/// `send-proxy` (PROXY v1, text): FlashMQ has no v1, so this runs against brokkr only.
#[test]
fn send_proxy_v1_source_address_reaches_the_broker() {
    if Peer::from_env() == Peer::FlashMq {
        println!("send_proxy_v1: skipped, FlashMQ supports PROXY v2 only");
        return;
    }
    let dir = TempDir::new("proxy-v1");
    let (watch, allow) = (free_port(), free_port());
    let listeners = [(
        allow,
        "  haproxy on\n  only_allow_from 127.0.0.3/32".to_string(),
    )];
    let f = plain_frontend(allow, "send-proxy");
    let Some((b, _h)) = start(
        "proxy-v1",
        "",
        dir,
        watch,
        &listeners,
        std::slice::from_ref(&f),
    ) else {
        return;
    };
    let sub = subscribe(&Via::tcp(watch), "v1/#").ok();
    let from = |addr: &str, id: &str| Via::tcp(f.port).with(&["-A", addr, "-i", id]);
    publish_ok(&from("127.0.0.3", "v1-from-3"), "v1/allowed", "from 3");
    let outside = publish(&from("127.0.0.1", "v1-from-1"), "v1/outside", "x");
    assert!(
        !outside.status.success(),
        "127.0.0.1 passed only_allow_from 127.0.0.3"
    );
    assert_eq!(sub.drain(1000), ["v1/allowed from 3"]);
    assert_logged(&b, "v1-from-3", "127.0.0.3");
}
