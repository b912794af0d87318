//! The authenticating phase: a login the access policy defers leaves the connection waiting,
//! its later bytes held, until the verdict comes back; everything the CONNECT does (takeover,
//! will, session, CONNACK) happens only then, and a verdict nobody waits for changes nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_core::access::{AccessPolicy, Login, LoginCheck, LoginJob};
use brokkr_core::limits::Limits;
use brokkr_core::shard::{AuthJob, Placement, Shard, SharedState, home_shard};
use brokkr_testkit::build::{self, encode};
use common::*;
use std::sync::Arc;

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

/// User "slow" (password "pw") is checked by a deferred job, as a password hash would be;
/// anyone else is let in at once.
#[derive(Debug)]
struct Deferring;

impl AccessPolicy for Deferring {
    fn login(&self, _listener: u16, user: Option<&[u8]>, pass: Option<&[u8]>) -> LoginCheck {
        if user != Some(b"slow".as_slice()) {
            return LoginCheck::Now(Ok(Login::default()));
        }
        let right = pass == Some(b"pw".as_slice());
        LoginCheck::Deferred(LoginJob::new(move || {
            if right {
                Ok(Login {
                    username: Some(Arc::from("slow")),
                })
            } else {
                Err(ReasonCode::BadUserNameOrPassword)
            }
        }))
    }

    fn may_write(&self, _: &Login, _: &str, _: &TopicName) -> bool {
        true
    }

    fn may_read(&self, _: &Login, _: &str, _: &TopicName) -> bool {
        true
    }

    fn checks_reads(&self) -> bool {
        false
    }
}

fn deferring_shared() -> Arc<SharedState> {
    let shared = SharedState::new();
    shared.set_policy(Arc::new(Deferring));
    shared
}

fn world() -> World {
    World {
        shard: Shard::with_placement(Limits::default(), 5, Placement::SOLE, deferring_shared()),
        now: 1_000,
    }
}

fn slow_connect(v: ProtocolVersion, id: &str, pw: &str) -> Connect {
    let mut connect = build::connect(v, id);
    connect.username = Some(MqttString::new("slow").unwrap());
    connect.password = Some(bytes::Bytes::copy_from_slice(pw.as_bytes()));
    connect
}

/// Open a connection and send a CONNECT whose login is deferred; nothing comes back yet.
fn start(w: &mut World, connect: Connect) -> (Client, AuthJob) {
    let mut c = w.open(connect.protocol.0);
    w.send(&c, Packet::Connect(Box::new(connect)));
    assert_eq!(w.recv(&mut c), [], "nothing is answered before the verdict");
    let mut jobs = w.shard.take_auth_jobs();
    assert_eq!(jobs.len(), 1);
    let job = jobs.pop().unwrap();
    assert_eq!(job.conn, c.id);
    (c, job)
}

/// Run `job` and hand its verdict back.
fn finish(w: &mut World, job: AuthJob) {
    let verdict = job.job.run();
    w.shard.auth_verdict(w.now, job.conn, job.token, verdict);
}

#[test]
fn a_deferred_login_is_answered_when_its_verdict_arrives() {
    for v in [V5, V311] {
        let mut w = world();
        let (mut c, job) = start(&mut w, slow_connect(v, "s", "pw"));
        assert_eq!(w.shard.session_count(), 0, "no session before the verdict");
        finish(&mut w, job);
        let got = w.recv(&mut c);
        assert_eq!(connack(&got).reason, ReasonCode::Success, "{v:?}");
        assert_eq!(w.shard.session_count(), 1);
        // An immediate login never makes a job.
        w.connect(v, "quick", true);
        assert!(w.shard.take_auth_jobs().is_empty());
    }
}

#[test]
fn a_refused_deferred_login_gets_its_connack_code_in_every_version() {
    for (v, reason) in [
        (V5, ReasonCode::BadUserNameOrPassword),
        (V311, ReasonCode::BadUserNameOrPassword),
        // What the server answers when its login queue is full.
        (V5, ReasonCode::ServerBusy),
        (V311, ReasonCode::ServerUnavailable),
    ] {
        let mut w = world();
        let (mut c, job) = start(&mut w, slow_connect(v, "s", "wrong"));
        if reason == ReasonCode::BadUserNameOrPassword {
            finish(&mut w, job);
        } else {
            w.shard.auth_busy(w.now, job.conn, job.token);
        }
        let got = w.recv(&mut c);
        // 3.1.1 return codes 4 and 3 decode as 0x86 and 0x88.
        assert_eq!(connack(&got).reason, reason, "{v:?}");
        assert!(w.is_closed(&c));
        assert_eq!(w.shard.session_count(), 0);
    }
}

#[test]
fn bytes_sent_while_authenticating_are_handled_in_order_after_the_verdict() {
    let mut w = world();
    let v = V5;
    let (mut c, job) = start(&mut w, slow_connect(v, "s", "pw"));
    w.send(
        &c,
        Packet::Subscribe(build::subscribe(1, &["own/#"], QoS::AtLeastOnce)),
    );
    let mut p = build::publish("own/x", b"one", QoS::AtLeastOnce, false);
    p.qos_pid = QosPid::from_parts(QoS::AtLeastOnce, build::pid(9));
    w.send(&c, Packet::Publish(p));
    // Half a packet too: it waits with the rest.
    let ping = encode(&Packet::PingReq, v);
    w.send_raw(&c, &ping[..1]);
    assert_eq!(w.recv(&mut c), []);
    finish(&mut w, job);
    w.send_raw(&c, &ping[1..]);
    let got = w.recv(&mut c);
    assert!(
        matches!(
            &got[..],
            [
                Packet::ConnAck(a),
                Packet::SubAck(_),
                Packet::PubAck(_),
                Packet::Publish(d),
                Packet::PingResp,
            ] if a.reason == ReasonCode::Success && &d.payload[..] == b"one"
        ),
        "{got:?}"
    );
}

#[test]
fn a_connection_closed_while_authenticating_drops_its_late_verdict() {
    let mut w = world();
    let mut watcher = w.connect(V5, "watcher", true);
    subscribe(&mut w, &mut watcher, "will/#", QoS::AtMostOnce);
    let mut connect = slow_connect(V5, "s", "pw");
    connect.will = Some(Will {
        topic: TopicName::new("will/s").unwrap(),
        payload: bytes::Bytes::from_static(b"gone"),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    });
    let (c, job) = start(&mut w, connect);
    w.shard.connection_lost(w.now, c.id);
    finish(&mut w, job);
    assert_eq!(w.shard.session_count(), 1, "only the watcher's");
    assert!(
        publishes(&w.recv(&mut watcher)).is_empty(),
        "a will is registered only after the verdict"
    );
    // A job not yet taken when its connection closed is not handed out at all.
    let c = w.open(V5);
    w.send(&c, Packet::Connect(Box::new(slow_connect(V5, "t", "pw"))));
    w.shard.connection_lost(w.now, c.id);
    assert!(w.shard.take_auth_jobs().is_empty());
}

#[test]
fn the_connect_timeout_runs_while_authenticating() {
    let mut w = world();
    let (mut c, job) = start(&mut w, slow_connect(V311, "s", "pw"));
    let timeout = Limits::default().connect_timeout_ms;
    assert_eq!(w.shard.next_deadline_ms(), Some(w.now + timeout));
    w.now += timeout - 1;
    w.shard.tick(w.now);
    assert!(!w.is_closed(&c));
    w.now += 1;
    w.shard.tick(w.now);
    assert!(w.is_closed(&c));
    finish(&mut w, job);
    assert_eq!(w.recv(&mut c), [], "the late verdict answers nothing");
    assert_eq!(w.shard.session_count(), 0);
}

#[test]
fn a_verdict_with_another_connections_token_is_ignored() {
    let mut w = world();
    let (mut a, job_a) = start(&mut w, slow_connect(V5, "a", "pw"));
    let (mut b, job_b) = start(&mut w, slow_connect(V5, "b", "wrong"));
    // b's refusal, handed back with a's connection: neither moves.
    let verdict_b = job_b.job.run();
    w.shard
        .auth_verdict(w.now, a.id, job_b.token, verdict_b.clone());
    assert_eq!(w.recv(&mut a), []);
    assert_eq!(w.recv(&mut b), []);
    w.shard.auth_verdict(w.now, b.id, job_b.token, verdict_b);
    assert_eq!(
        connack(&w.recv(&mut b)).reason,
        ReasonCode::BadUserNameOrPassword
    );
    let token_a = job_a.token;
    finish(&mut w, job_a);
    assert_eq!(connack(&w.recv(&mut a)).reason, ReasonCode::Success);
    // The same verdict again: a is connected, not waiting.
    w.shard
        .auth_verdict(w.now, a.id, token_a, Err(ReasonCode::NotAuthorized));
    assert_eq!(w.recv(&mut a), []);
    assert!(!w.is_closed(&a));
}

#[test]
fn a_takeover_waits_for_the_verdict() {
    let mut w = world();
    let (mut old, job) = start(&mut w, slow_connect(V5, "same", "pw"));
    finish(&mut w, job);
    assert_eq!(connack(&w.recv(&mut old)).reason, ReasonCode::Success);
    let (mut new, job) = start(&mut w, slow_connect(V5, "same", "wrong"));
    assert_eq!(
        w.recv(&mut old),
        [],
        "the live client is untouched meanwhile"
    );
    finish(&mut w, job);
    assert_eq!(
        connack(&w.recv(&mut new)).reason,
        ReasonCode::BadUserNameOrPassword
    );
    assert_eq!(w.recv(&mut old), [], "a refused login takes nothing over");
    assert!(!w.closed().contains(&old.id));
    let (mut new, job) = start(&mut w, slow_connect(V5, "same", "pw"));
    assert_eq!(w.recv(&mut old), []);
    finish(&mut w, job);
    assert_eq!(connack(&w.recv(&mut new)).reason, ReasonCode::Success);
    let got = w.recv(&mut old);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::SessionTakenOver),
        "{got:?}"
    );
}

#[test]
fn bytes_over_the_pre_connect_cap_while_authenticating_close_the_connection() {
    let mut w = world();
    let (mut c, job) = start(&mut w, slow_connect(V5, "s", "pw"));
    let cap = Limits::default().packet_cap(false);
    w.send_raw(&c, &vec![0u8; cap / 2]);
    assert!(!w.is_closed(&c));
    w.send_raw(&c, &vec![0u8; cap - cap / 2 + 1]);
    assert!(w.is_closed(&c));
    assert_eq!(connack(&w.recv(&mut c)).reason, ReasonCode::PacketTooLarge);
    finish(&mut w, job);
    assert_eq!(w.recv(&mut c), []);
    assert_eq!(w.shard.session_count(), 0);
}

#[test]
fn a_connect_handed_to_its_home_shard_is_authenticated_there_once() {
    let shared = deferring_shared();
    let mut shards: Vec<Shard> = (0..2)
        .map(|i| {
            let place = Placement::new(i, 2).unwrap();
            Shard::with_placement(Limits::default(), 7, place, shared.clone())
        })
        .collect();
    let id = (0..)
        .map(|i| format!("roamer-{i}"))
        .find(|id| home_shard(id.as_bytes(), 2) == 1)
        .unwrap();
    let conn = shards[0].accept(1_000);
    let bytes = encode(&Packet::Connect(Box::new(slow_connect(V5, &id, "pw"))), V5);
    shards[0].bytes_received(1_000, conn, &bytes);
    assert!(shards[0].take_auth_jobs().is_empty(), "not checked here");
    let handoffs = shards[0].take_handoffs();
    assert_eq!(handoffs.len(), 1);
    let moved = shards[1].accept_handoff(1_000, &handoffs[0]);
    let jobs = shards[1].take_auth_jobs();
    assert_eq!(jobs.len(), 1);
    assert!(shards[1].write_buffer(moved).is_empty());
    shards[1].run_auth_jobs(1_000); // nothing left to run: taken above
    assert!(shards[1].write_buffer(moved).is_empty());
    for j in jobs {
        let verdict = j.job.run();
        shards[1].auth_verdict(1_000, j.conn, j.token, verdict);
    }
    let mut out = bytes::BytesMut::from(shards[1].write_buffer(moved));
    let raw = framer::next_packet(&mut out, usize::MAX).unwrap().unwrap();
    let Packet::ConnAck(ack) = Packet::decode(raw, V5).unwrap() else {
        panic!("CONNACK expected");
    };
    assert_eq!(ack.reason, ReasonCode::Success);
    assert!(shards[1].take_handoffs().is_empty(), "it never moves again");
}

#[test]
fn run_auth_jobs_completes_deferred_logins_in_place() {
    let mut w = world();
    let mut c = w.open(V311);
    w.send(&c, Packet::Connect(Box::new(slow_connect(V311, "s", "pw"))));
    w.send(&c, Packet::PingReq);
    w.shard.run_auth_jobs(w.now);
    let got = w.recv(&mut c);
    assert!(
        matches!(&got[..], [Packet::ConnAck(a), Packet::PingResp] if a.reason == ReasonCode::Success),
        "{got:?}"
    );
}
