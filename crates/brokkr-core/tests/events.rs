//! The events the server logs: logins, refusals, disconnects, and subscriptions and publishes
//! when the config asks for them; nothing at all unless enabled.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use brokkr_codec::*;
use brokkr_core::events::{Event, EventSettings};
use brokkr_core::limits::Limits;
use brokkr_testkit::build;
use common::*;

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn world(settings: EventSettings) -> World {
    let mut w = World::with_limits(Limits::default());
    w.shard.enable_events(settings);
    w
}

const ALL: EventSettings = EventSettings {
    connections: true,
    subscriptions: true,
    publishes: true,
};

#[test]
fn a_session_leaves_a_trail_of_events_in_order() {
    let mut w = world(ALL);
    let mut c = w.connect(V5, "dev-1", true);
    subscribe(&mut w, &mut c, "a/+", QoS::AtLeastOnce);
    publish(&mut w, &c, "a/b", b"xyz", QoS::AtMostOnce, true);
    w.send(&c, Packet::Unsubscribe(build::unsubscribe(2, &["a/+"])));
    w.send(&c, Packet::Disconnect(Disconnect::default()));
    let events = w.shard.take_events();
    let id = c.id;
    assert_eq!(
        events,
        [
            Event::LoggedIn {
                conn: id,
                client_id: "dev-1".into(),
                username: None,
                version: V5,
                session_present: false,
            },
            Event::Subscribed {
                conn: id,
                client_id: "dev-1".into(),
                filter: "a/+".into(),
                granted: Some(QoS::AtLeastOnce),
            },
            Event::Published {
                conn: id,
                client_id: "dev-1".into(),
                topic: "a/b".into(),
                qos: QoS::AtMostOnce,
                retain: true,
                payload_bytes: 3,
            },
            Event::Unsubscribed {
                conn: id,
                client_id: "dev-1".into(),
                filter: "a/+".into(),
            },
            Event::Disconnected {
                conn: id,
                client_id: "dev-1".into(),
                clean: true,
            },
        ]
    );
    assert!(!w.shard.has_events());
}

#[test]
fn a_lost_connection_is_not_clean_and_a_refusal_names_the_client() {
    let mut w = world(EventSettings {
        connections: true,
        ..EventSettings::default()
    });
    let c = w.connect(V311, "dev-2", true);
    w.shard.connection_lost(w.now, c.id);
    // MQTT 3.1 refuses an empty client id: the refusal is an event too.
    let mut bad = w.open(ProtocolVersion::V3_1);
    w.send(
        &bad,
        Packet::Connect(Box::new(build::connect(ProtocolVersion::V3_1, ""))),
    );
    let _ = w.recv(&mut bad);
    let events = w.shard.take_events();
    assert!(
        matches!(
            &events[1],
            Event::Disconnected { client_id, clean: false, .. } if client_id == "dev-2"
        ),
        "{events:?}"
    );
    assert!(
        matches!(
            &events[2],
            Event::Refused {
                reason: ReasonCode::ClientIdentifierNotValid,
                ..
            }
        ),
        "{events:?}"
    );
    assert_eq!(events.len(), 3);
}

#[test]
fn subscriptions_and_publishes_are_recorded_only_when_asked() {
    let mut w = world(EventSettings {
        connections: true,
        ..EventSettings::default()
    });
    let mut c = w.connect(V311, "dev-3", true);
    subscribe(&mut w, &mut c, "x/#", QoS::AtMostOnce);
    publish(&mut w, &c, "x/y", b"1", QoS::AtMostOnce, false);
    let events = w.shard.take_events();
    assert_eq!(events.len(), 1, "only the login: {events:?}");

    let mut w = World::with_limits(Limits::default());
    let mut c = w.connect(V311, "dev-4", true);
    subscribe(&mut w, &mut c, "x/#", QoS::AtMostOnce);
    assert!(w.shard.take_events().is_empty(), "nothing unless enabled");
}
