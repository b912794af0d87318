//! The core obeys its access policy: refused logins get their CONNACK code, a PUBLISH the
//! ACL forbids is answered 0x87 (MQTT 5) or silently dropped (3.x), a message a subscriber may
//! not read is not delivered, a forbidden will is not registered, and a replaced policy applies
//! to the next input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_core::access::{AccessPolicy, AllowAll, Login, LoginCheck, TransportUser};
use brokkr_core::limits::Limits;
use brokkr_core::shard::{Placement, Shard, SharedState};
use brokkr_testkit::build;
use common::*;
use std::sync::Arc;

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

/// Users "alice" (password "pw") and anyone anonymous; nobody writes under `secret/`, only
/// alice reads under `private/`.
#[derive(Debug)]
struct TestPolicy;

impl AccessPolicy for TestPolicy {
    fn login(
        &self,
        _listener: u16,
        username: Option<&[u8]>,
        password: Option<&[u8]>,
    ) -> LoginCheck {
        LoginCheck::Now(match (username, password) {
            (None, _) => Ok(Login::default()),
            (Some(b"alice"), Some(b"pw")) => Ok(Login {
                username: Some(Arc::from("alice")),
            }),
            _ => Err(ReasonCode::BadUserNameOrPassword),
        })
    }

    fn may_write(&self, _login: &Login, _client_id: &str, topic: &TopicName) -> bool {
        !topic.as_str().starts_with("secret/")
    }

    fn may_read(&self, login: &Login, _client_id: &str, topic: &TopicName) -> bool {
        !topic.as_str().starts_with("private/") || login.username.as_deref() == Some("alice")
    }

    fn checks_reads(&self) -> bool {
        true
    }
}

fn world() -> World {
    let shared = SharedState::new();
    shared.set_policy(Arc::new(TestPolicy));
    World {
        shard: Shard::with_placement(Limits::default(), 5, Placement::SOLE, shared),
        now: 1_000,
    }
}

fn connect_as(w: &mut World, v: ProtocolVersion, id: &str, user: &str, pw: &[u8]) -> Vec<Packet> {
    let mut c = w.open(v);
    let mut connect = build::connect(v, id);
    connect.username = Some(MqttString::new(user).unwrap());
    connect.password = Some(bytes::Bytes::copy_from_slice(pw));
    w.send(&c, Packet::Connect(Box::new(connect)));
    w.recv(&mut c)
}

#[test]
fn a_refused_login_gets_its_connack_code_in_every_version() {
    let mut w = world();
    let got = connect_as(&mut w, V5, "m", "mallory", b"guess");
    assert_eq!(connack(&got).reason, ReasonCode::BadUserNameOrPassword);
    let got = connect_as(&mut w, V311, "m", "mallory", b"guess");
    // The codec writes 0x86 as the 3.1.1 return code 4 (bad user name or password).
    assert_eq!(connack(&got).reason, ReasonCode::BadUserNameOrPassword);
    assert_eq!(w.shard.session_count(), 0);
    let got = connect_as(&mut w, V5, "a", "alice", b"pw");
    assert_eq!(connack(&got).reason, ReasonCode::Success);
}

#[test]
fn a_forbidden_publish_is_refused_with_0x87_in_mqtt5_and_dropped_in_3() {
    let mut w = world();
    let mut sub = w.connect(V5, "watcher", true);
    subscribe(&mut w, &mut sub, "#", QoS::AtLeastOnce);
    let mut p5 = w.connect(V5, "p5", true);
    publish(&mut w, &p5, "secret/plans", b"x", QoS::AtLeastOnce, false);
    let got = w.recv(&mut p5);
    assert!(
        matches!(&got[..], [Packet::PubAck(a)] if a.reason == ReasonCode::NotAuthorized),
        "{got:?}"
    );
    publish(&mut w, &p5, "secret/plans", b"x", QoS::ExactlyOnce, false);
    let got = w.recv(&mut p5);
    assert!(
        matches!(&got[..], [Packet::PubRec(r)] if r.reason == ReasonCode::NotAuthorized),
        "{got:?}"
    );
    let mut p3 = w.connect(V311, "p3", true);
    publish(&mut w, &p3, "secret/plans", b"x", QoS::AtLeastOnce, false);
    let got = w.recv(&mut p3);
    assert!(
        matches!(&got[..], [Packet::PubAck(a)] if a.reason == ReasonCode::Success),
        "{got:?}"
    );
    assert!(publishes(&w.recv(&mut sub)).is_empty(), "nothing delivered");
    publish(&mut w, &p3, "open/news", b"ok", QoS::AtMostOnce, false);
    assert_eq!(publishes(&w.recv(&mut sub)).len(), 1);
}

#[test]
fn the_read_acl_is_checked_per_delivered_message() {
    let mut w = world();
    let mut anon = w.connect(V311, "anon", true);
    subscribe(&mut w, &mut anon, "#", QoS::AtMostOnce);
    let mut alice = w.open(V311);
    let mut connect = build::connect(V311, "alice-1");
    connect.username = Some(MqttString::new("alice").unwrap());
    connect.password = Some(bytes::Bytes::from_static(b"pw"));
    w.send(&alice, Packet::Connect(Box::new(connect)));
    let _ = w.recv(&mut alice);
    subscribe(&mut w, &mut alice, "#", QoS::AtMostOnce);
    let p = w.connect(V311, "pub", true);
    publish(&mut w, &p, "private/diary", b"dear", QoS::AtMostOnce, true);
    publish(&mut w, &p, "public/news", b"hi", QoS::AtMostOnce, false);
    let topics = |got: Vec<Packet>| -> Vec<String> {
        publishes(&got)
            .iter()
            .map(|p| p.topic.as_str().to_string())
            .collect()
    };
    assert_eq!(topics(w.recv(&mut anon)), ["public/news"]);
    assert_eq!(topics(w.recv(&mut alice)), ["private/diary", "public/news"]);
    // Retained messages go through the same check.
    let mut late = w.connect(V311, "late", true);
    w.send(
        &late,
        Packet::Subscribe(build::subscribe(1, &["private/#"], QoS::AtMostOnce)),
    );
    assert!(publishes(&w.recv(&mut late)).is_empty());
}

#[test]
fn a_will_the_client_may_not_publish_is_not_registered() {
    let mut w = world();
    let mut sub = w.connect(V311, "watcher", true);
    subscribe(&mut w, &mut sub, "#", QoS::AtMostOnce);
    for (id, topic) in [("bad", "secret/will"), ("good", "status/good")] {
        let mut c = w.open(V311);
        let mut connect = build::connect(V311, id);
        connect.will = Some(build::will(
            build::topic(topic),
            bytes::Bytes::from_static(b"gone"),
            QoS::AtMostOnce,
            false,
        ));
        w.send(&c, Packet::Connect(Box::new(connect)));
        assert_eq!(connack(&w.recv(&mut c)).reason, ReasonCode::Success);
        w.shard.connection_lost(w.now, c.id);
    }
    let got = w.recv(&mut sub);
    let topics: Vec<&str> = publishes(&got).iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(topics, ["status/good"]);
}

#[test]
fn a_replaced_policy_applies_from_the_next_input() {
    let shared = SharedState::new();
    let mut w = World {
        shard: Shard::with_placement(Limits::default(), 5, Placement::SOLE, shared.clone()),
        now: 1_000,
    };
    let mut sub = w.connect(V311, "watcher", true);
    subscribe(&mut w, &mut sub, "#", QoS::AtMostOnce);
    let p = w.connect(V311, "pub", true);
    publish(&mut w, &p, "secret/a", b"1", QoS::AtMostOnce, false);
    assert_eq!(publishes(&w.recv(&mut sub)).len(), 1, "AllowAll");
    shared.set_policy(Arc::new(TestPolicy));
    publish(&mut w, &p, "secret/a", b"2", QoS::AtMostOnce, false);
    assert!(publishes(&w.recv(&mut sub)).is_empty(), "TestPolicy");
    shared.set_policy(Arc::new(AllowAll));
    publish(&mut w, &p, "secret/a", b"3", QoS::AtMostOnce, false);
    assert_eq!(publishes(&w.recv(&mut sub)).len(), 1, "AllowAll again");
}

/// A client whose transport proved a name (a verified client certificate's CN).
fn connect_proven(
    w: &mut World,
    id: &str,
    cn: &str,
    still_authenticate: bool,
    user: Option<&str>,
    pw: Option<&[u8]>,
) -> (common::Client, Vec<Packet>) {
    let mut c = w.open(V311);
    w.shard.set_transport_user(
        c.id,
        TransportUser {
            name: Arc::from(cn),
            still_authenticate,
        },
    );
    let mut connect = build::connect(V311, id);
    connect.username = user.map(|u| MqttString::new(u).unwrap());
    connect.password = pw.map(bytes::Bytes::copy_from_slice);
    w.send(&c, Packet::Connect(Box::new(connect)));
    let got = w.recv(&mut c);
    (c, got)
}

fn connack_code(got: &[Packet]) -> ReasonCode {
    match got.first() {
        Some(Packet::ConnAck(c)) => c.reason,
        other => panic!("expected a CONNACK, got {other:?}"),
    }
}

#[test]
fn a_certificate_name_replaces_the_connect_username_for_login_and_acl() {
    let mut w = world();
    // The CONNECT names nobody (or someone else, with a wrong password): the certificate
    // alone logs the client in as alice, and the read ACL treats it as alice.
    let (mut alice, got) = connect_proven(&mut w, "cert-1", "alice", false, Some("mallory"), None);
    assert_eq!(connack_code(&got), ReasonCode::Success);
    subscribe(&mut w, &mut alice, "private/#", QoS::AtMostOnce);
    let p = w.connect(V311, "pub", true);
    publish(&mut w, &p, "private/diary", b"dear", QoS::AtMostOnce, false);
    let got = w.recv(&mut alice);
    assert_eq!(
        publishes(&got).len(),
        1,
        "alice by certificate may read private/"
    );
}

#[test]
fn still_authenticate_checks_the_password_under_the_certificate_name() {
    let mut w = world();
    // (3.1.1 needs a username beside a password; the certificate's name replaces it.)
    let (_c, got) = connect_proven(&mut w, "cert-2", "alice", true, Some("x"), Some(b"pw"));
    assert_eq!(connack_code(&got), ReasonCode::Success);
    let (_c, got) = connect_proven(&mut w, "cert-3", "alice", true, Some("x"), Some(b"wrong"));
    assert_eq!(
        connack_code(&got),
        ReasonCode::BadUserNameOrPassword,
        "the password is checked under the certificate's name"
    );
    // A name the password file does not know fails even with a password.
    let (_c, got) = connect_proven(&mut w, "cert-4", "bob", true, Some("alice"), Some(b"pw"));
    assert_eq!(connack_code(&got), ReasonCode::BadUserNameOrPassword);
}
