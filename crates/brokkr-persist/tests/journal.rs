//! The journal: every record kind round trips, a torn tail is detected at every cut and the
//! records before it are kept, and replay rebuilds deliveries, removes completed ones, follows
//! subscriptions and sessions, and keeps retained messages.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_codec::*;
use brokkr_core::access::AllowAll;
use brokkr_core::journal::{JournalId, JournalRecord};
use brokkr_core::message::Message;
use brokkr_core::shard::SubOptions;
use brokkr_core::snapshot::{DeliverySnapshot, InFlightSnapshot, SessionSnapshot};
use brokkr_persist::journal::JOURNAL_HEADER_BYTES;
use brokkr_persist::*;
use brokkr_testkit::build;
use bytes::Bytes;
use std::sync::Arc;

const NOW: u64 = 1_700_000_100_000;

fn message(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Arc<Message> {
    let p = Publish {
        dup: false,
        qos_pid: QosPid::AtMostOnce,
        retain,
        topic: build::topic(topic),
        properties: PublishProperties::default(),
        payload: Bytes::copy_from_slice(payload),
    };
    let mut m = Message::from_publish(p, build::topic(topic), 0);
    m.qos = qos;
    Arc::new(m)
}

fn opts(qos: QoS, no_local: bool) -> SubOptions {
    SubOptions {
        qos,
        no_local,
        retain_as_published: false,
        subscription_id: std::num::NonZeroU32::new(7),
    }
}

fn session(id: &str, fresh: bool, expiry_secs: u32) -> JournalRecord {
    JournalRecord::Session {
        client_id: id.into(),
        username: Some("u".into()),
        version: ProtocolVersion::V5,
        expiry_secs,
        fresh,
    }
}

fn subscribed(id: &str, filter: &str, no_local: bool) -> JournalRecord {
    JournalRecord::Subscribed {
        client_id: id.into(),
        filter: TopicFilter::new(filter).unwrap(),
        options: opts(QoS::AtLeastOnce, no_local),
    }
}

fn published(seq: u64, publisher: &str, m: Arc<Message>) -> JournalRecord {
    JournalRecord::Published {
        seq,
        publisher: publisher.into(),
        message: m,
    }
}

fn id(boot: u64, seq: u64) -> JournalId {
    JournalId {
        boot,
        seq: std::num::NonZeroU64::new(seq).unwrap(),
    }
}

fn completed(client_id: &str, boot: u64, seq: u64) -> JournalRecord {
    JournalRecord::Completed {
        client_id: client_id.into(),
        id: id(boot, seq),
    }
}

fn every_kind() -> Vec<JournalRecord> {
    vec![
        session("sub", true, 60),
        subscribed("sub", "a/+", false),
        subscribed("sub", "$share/g/b/#", true),
        JournalRecord::Unsubscribed {
            client_id: "sub".into(),
            filter: TopicFilter::new("a/+").unwrap(),
        },
        published(
            1 << 10,
            "pub",
            message("a/b", b"x", QoS::AtLeastOnce, false),
        ),
        published(2 << 10, "", message("r/1", b"kept", QoS::AtMostOnce, true)),
        completed("sub", 2, 1 << 10),
        JournalRecord::SessionEnded {
            client_id: "sub".into(),
        },
    ]
}

fn journal(records: &[JournalRecord]) -> Vec<u8> {
    let mut file = encode_journal_header(3, 2);
    for (i, r) in records.iter().enumerate() {
        encode_record(&mut file, NOW + i as u64, r).unwrap();
    }
    file
}

#[test]
fn every_record_kind_round_trips() {
    let records = every_kind();
    let file = decode_journal(&journal(&records)).unwrap();
    assert_eq!((file.generation, file.boot, file.torn), (3, 2, None));
    let decoded: Vec<JournalRecord> = file.records.into_iter().map(|(_, r)| r).collect();
    assert_eq!(decoded, records);
}

#[test]
fn a_torn_tail_keeps_every_whole_record_before_it() {
    let records = every_kind();
    let whole = journal(&records);
    let mut ends = vec![JOURNAL_HEADER_BYTES];
    for r in &records {
        let mut one = Vec::new();
        encode_record(&mut one, 0, r).unwrap();
        ends.push(ends.last().unwrap() + one.len());
    }
    for cut in JOURNAL_HEADER_BYTES..whole.len() {
        let file = decode_journal(&whole[..cut]).unwrap();
        let complete = ends.iter().filter(|&&e| e <= cut).count() - 1;
        assert_eq!(file.records.len(), complete, "cut at {cut}");
        assert_eq!(file.torn.is_some(), !ends.contains(&cut), "cut at {cut}");
    }
    // A flipped bit in a record stops the replay there, never yields a wrong record.
    for byte in JOURNAL_HEADER_BYTES..whole.len() {
        let mut bad = whole.clone();
        bad[byte] ^= 0x10;
        let file = decode_journal(&bad).unwrap();
        assert!(file.torn.is_some(), "byte {byte}");
        assert!(file.records.iter().all(|(_, r)| records.contains(r)));
    }
    assert!(decode_journal(&whole[..JOURNAL_HEADER_BYTES - 1]).is_err());
    let mut bad_header = whole.clone();
    bad_header[20] ^= 1;
    assert!(decode_journal(&bad_header).is_err());
}

fn replay(records: &[(u64, JournalRecord)]) -> Replay {
    let scope = ReplayScope {
        sessions: true,
        retained: true,
    };
    let mut r = Replay::new(Vec::new(), Vec::new(), NOW + 1000, scope);
    for (boot, record) in records {
        r.apply(*boot, NOW, record, &AllowAll);
    }
    r
}

#[test]
fn replay_queues_acknowledged_messages_and_drops_completed_ones() {
    let m1 = message("a/b", b"one", QoS::AtLeastOnce, false);
    let m2 = message("a/c", b"two", QoS::ExactlyOnce, false);
    let m3 = message("x/y", b"unmatched", QoS::AtLeastOnce, false);
    let r = replay(&[
        (1, session("sub", true, 60)),
        (1, subscribed("sub", "a/+", false)),
        (1, published(1, "pub", m1)),
        (1, published(2, "pub", m2)),
        (1, published(3, "pub", m3)),
        // Another boot's sequence number 1 is another message.
        (2, completed("sub", 2, 1)),
        (2, completed("sub", 1, 2)),
    ]);
    assert_eq!(r.stats().deliveries, 2);
    let (sessions, _) = r.finish();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!((s.client_id.as_str(), s.expiry_secs), ("sub", 60));
    assert_eq!(s.subscriptions.len(), 1);
    assert_eq!(s.queued.len(), 1);
    assert_eq!(&s.queued[0].message.payload[..], b"one");
    assert_eq!(s.queued[0].qos, QoS::AtLeastOnce);
    assert_eq!(s.queued[0].age_ms, 1000);
    assert_eq!(s.queued[0].subscription_id, std::num::NonZeroU32::new(7));
}

#[test]
fn replay_follows_no_local_unsubscribe_and_session_ends() {
    let m = || message("a/b", b"m", QoS::AtLeastOnce, false);
    let (sessions, _) = replay(&[
        (1, session("self", true, 60)),
        (1, subscribed("self", "a/#", true)),
        (1, published(1, "self", m())), // No Local
        (1, session("gone", true, 60)),
        (1, subscribed("gone", "a/#", false)),
        (
            1,
            JournalRecord::SessionEnded {
                client_id: "gone".into(),
            },
        ),
        (1, published(2, "p", m())),
        (1, session("left", true, 60)),
        (1, subscribed("left", "a/b", false)),
        (
            1,
            JournalRecord::Unsubscribed {
                client_id: "left".into(),
                filter: TopicFilter::new("a/b").unwrap(),
            },
        ),
        (1, published(3, "p", m())),
        (1, session("zero", true, 60)),
        (1, session("zero", false, 0)),
        (1, subscribed("clean", "a/#", false)), // not a persistent session: ignored
    ])
    .finish();
    let names: Vec<&str> = sessions.iter().map(|s| s.client_id.as_str()).collect();
    assert_eq!(names, ["left", "self"]);
    assert_eq!(
        sessions[1].queued.len(),
        2,
        "not its own message (No Local)"
    );
    assert!(sessions[0].queued.is_empty());
}

#[test]
fn replay_sets_and_clears_retained_messages() {
    let (_, retained) = replay(&[
        (
            1,
            published(1, "p", message("r/a", b"1", QoS::AtMostOnce, true)),
        ),
        (
            1,
            published(2, "p", message("r/b", b"2", QoS::AtLeastOnce, true)),
        ),
        (
            1,
            published(3, "p", message("r/a", b"", QoS::AtMostOnce, true)),
        ),
        (
            1,
            published(4, "p", message("r/b", b"3", QoS::AtLeastOnce, true)),
        ),
    ])
    .finish();
    assert_eq!(retained.len(), 1);
    assert_eq!(retained[0].message.topic.as_str(), "r/b");
    assert_eq!(&retained[0].message.payload[..], b"3");
}

#[test]
fn journal_files_rotate_and_truncate() {
    let dir = std::env::temp_dir().join(format!("brokkr-journal-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut w = JournalWriter::create(&dir, 4, 4).unwrap();
    let mut bytes = Vec::new();
    encode_record(&mut bytes, NOW, &session("s", true, 9)).unwrap();
    w.append(&bytes).unwrap();
    w.sync().unwrap();
    assert!(JournalWriter::create(&dir, 4, 4).is_err(), "never reopened");
    JournalWriter::create(&dir, 5, 4).unwrap();
    assert_eq!(journal_generations(&dir).unwrap(), [4, 5]);
    match load_journal(&dir, 4).unwrap() {
        LoadOutcome::Loaded(f) => assert_eq!(f.records.len(), 1),
        other => panic!("{other:?}"),
    }
    save_journal_base(&dir, 5).unwrap();
    assert!(matches!(
        load_journal_base(&dir).unwrap(),
        LoadOutcome::Loaded(5)
    ));
    assert_eq!(remove_journals_before(&dir, 5).unwrap(), 1);
    assert_eq!(journal_generations(&dir).unwrap(), [5]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_fuzz_oracle_takes_every_kind() {
    let mut seed = vec![0];
    seed.extend_from_slice(&journal(&every_kind()));
    brokkr_persist::fuzzing::journal_roundtrip(&seed);
    brokkr_persist::fuzzing::journal_roundtrip(&[1, 3, 9, 9, 9]);
}

/// A delivery of `m` carrying journaled message `id` (if any).
fn delivery(m: &Arc<Message>, qos: QoS, id: Option<JournalId>) -> DeliverySnapshot {
    DeliverySnapshot {
        message: Message::clone(m),
        age_ms: 0,
        qos,
        retain: false,
        subscription_id: None,
        journal: id,
    }
}

/// Session `sub`, subscribed to `a/+`, as a snapshot holds it.
fn saved_session(
    in_flight: Vec<InFlightSnapshot>,
    queued: Vec<DeliverySnapshot>,
) -> SessionSnapshot {
    SessionSnapshot {
        client_id: "sub".into(),
        username: None,
        version: ProtocolVersion::V3_1_1,
        expiry_secs: 60,
        offline_for_ms: 0,
        subscriptions: vec![(
            TopicFilter::new("a/+").unwrap(),
            opts(QoS::ExactlyOnce, false),
        )],
        in_flight,
        queued,
        inbound_qos2: Vec::new(),
        last_packet_id: 3,
        will: None,
    }
}

fn replay_over(saved: SessionSnapshot, records: &[(u64, JournalRecord)]) -> SessionSnapshot {
    let scope = ReplayScope {
        sessions: true,
        retained: true,
    };
    let mut r = Replay::new(vec![saved], Vec::new(), NOW + 1000, scope);
    for (boot, record) in records {
        r.apply(*boot, NOW, record, &AllowAll);
    }
    let (mut sessions, _) = r.finish();
    assert_eq!(sessions.len(), 1);
    sessions.remove(0)
}

fn payloads(ds: &[DeliverySnapshot]) -> Vec<&[u8]> {
    ds.iter().map(|d| &d.message.payload[..]).collect()
}

/// Issue 4 leftover: deliveries restored from a snapshot kept no journal id, so an
/// acknowledgement after the restart was not journaled and the next crash delivered them
/// again. Now they keep it, and a later boot's `Completed` records remove them.
#[test]
fn replay_completes_deliveries_restored_from_the_snapshot() {
    let m = |p: &[u8]| message("a/b", p, QoS::ExactlyOnce, false);
    let saved = saved_session(
        vec![
            InFlightSnapshot::Publish(
                build::pid(1),
                delivery(&m(b"f1"), QoS::AtLeastOnce, Some(id(1, 6))),
            ),
            InFlightSnapshot::Publish(
                build::pid(2),
                delivery(&m(b"f2"), QoS::ExactlyOnce, Some(id(1, 7))),
            ),
            InFlightSnapshot::Publish(
                build::pid(3),
                delivery(&m(b"f3"), QoS::AtLeastOnce, Some(id(1, 8))),
            ),
        ],
        vec![
            delivery(&m(b"q1"), QoS::AtLeastOnce, Some(id(1, 5))),
            delivery(&m(b"untracked"), QoS::AtLeastOnce, None),
            delivery(&m(b"q2"), QoS::AtLeastOnce, Some(id(1, 9))),
        ],
    );
    let s = replay_over(
        saved,
        &[
            (2, session("sub", false, 60)),
            (2, completed("sub", 1, 5)),
            (2, completed("sub", 1, 6)),
            (2, completed("sub", 1, 7)),
            (2, completed("sub", 2, 8)), // another boot's 8: another message
        ],
    );
    // PUBREC completes a QoS 2 delivery: its PUBREL flow stays.
    assert_eq!(s.in_flight.len(), 2);
    assert_eq!(s.in_flight[0], InFlightSnapshot::PubRel(build::pid(2)));
    assert!(matches!(&s.in_flight[1], InFlightSnapshot::Publish(pid, d)
        if *pid == build::pid(3) && d.journal == Some(id(1, 8))));
    assert_eq!(payloads(&s.queued), [&b"untracked"[..], b"q2"]);
    assert_eq!(
        s.queued[1].journal,
        Some(id(1, 9)),
        "the id is kept for the next boot"
    );
}

/// A journal replayed over a snapshot taken after some of its records (the snapshot after a
/// rotation, or a crash before `journal.base` was saved) adds no second delivery.
#[test]
fn replay_over_a_newer_snapshot_does_not_duplicate() {
    let m1 = message("a/b", b"in the snapshot", QoS::AtLeastOnce, false);
    let m2 = message(
        "a/b",
        b"acknowledged before the snapshot",
        QoS::AtLeastOnce,
        false,
    );
    let m3 = message("a/b", b"after the snapshot", QoS::AtLeastOnce, false);
    let saved = saved_session(
        Vec::new(),
        vec![delivery(&m1, QoS::AtLeastOnce, Some(id(4, 1)))],
    );
    let s = replay_over(
        saved,
        &[
            (4, published(1, "pub", m1)),
            (4, published(2, "pub", m2)),
            (4, completed("sub", 4, 2)),
            (4, published(3, "pub", m3)),
        ],
    );
    assert_eq!(
        payloads(&s.queued),
        [&b"in the snapshot"[..], b"after the snapshot"]
    );
    assert_eq!(s.queued[1].journal, Some(id(4, 3)));
}

/// A delivery to another worker leaves before its `Published` record reaches the journal, so
/// the subscriber's acknowledgement can be journaled first: the rebuilt delivery is dropped.
/// With two matching subscriptions the message is delivered twice, and one acknowledgement
/// removes one delivery.
#[test]
fn acknowledgements_match_deliveries_one_for_one_in_any_order() {
    let m = |p: &[u8]| message("a/b", p, QoS::AtLeastOnce, false);
    let s = replay_over(
        saved_session(Vec::new(), Vec::new()),
        &[
            (5, completed("sub", 5, 1)),
            (5, published(1, "pub", m(b"raced"))),
            (5, subscribed("sub", "a/#", false)),
            (5, published(2, "pub", m(b"twice"))),
            (5, completed("sub", 5, 2)),
        ],
    );
    assert_eq!(payloads(&s.queued), [&b"twice"[..]]);
}
