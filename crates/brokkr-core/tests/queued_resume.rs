//! Regression: a session resumed with several queued messages of the same QoS received the
//! first one's bytes for every one of them (the queue was pumped with one encode cache, which
//! is valid for one message only). Found by brokkr-persist's restart tests.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use brokkr_codec::*;
use common::*;

#[test]
fn queued_messages_of_one_qos_keep_their_own_content_on_resume() {
    let mut w = World::new();
    let (mut s, _) = persistent(&mut w, ProtocolVersion::V5, "sub");
    subscribe(&mut w, &mut s, "q/#", QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, s.id);
    let p = w.connect(ProtocolVersion::V3_1_1, "pub", true);
    for (topic, payload) in [("q/1", b"a"), ("q/2", b"b"), ("q/3", b"c")] {
        publish(&mut w, &p, topic, payload, QoS::AtLeastOnce, false);
    }
    let mut s = w.open(ProtocolVersion::V5);
    let mut connect = brokkr_testkit::build::connect(ProtocolVersion::V5, "sub");
    connect.clean_start = false;
    connect.properties.session_expiry_interval_secs = Some(300);
    w.send(&s, Packet::Connect(Box::new(connect)));
    let got = w.recv(&mut s);
    assert!(connack(&got).session_present);
    let seen: Vec<_> = publishes(&got)
        .iter()
        .map(|x| (x.topic.as_str().to_string(), x.payload.to_vec()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("q/1".into(), b"a".to_vec()),
            ("q/2".into(), b"b".to_vec()),
            ("q/3".into(), b"c".to_vec()),
        ]
    );
}
