//! The shard's journal hooks across a restart: a delivery keeps the journal id of its message
//! in the snapshot, so the subscriber's acknowledgement after the restore is journaled under
//! the id the earlier process gave it (issue 4: such acknowledgements were not journaled, and
//! every later crash delivered the message again).

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use brokkr_codec::*;
use brokkr_core::journal::{JournalId, JournalRecord};
use brokkr_core::limits::Limits;
use brokkr_core::shard::Shard;
use common::*;

fn journaled_world(boot: u64) -> World {
    let mut w = World::new();
    w.shard.enable_journal(boot);
    w
}

fn completed(records: &[JournalRecord]) -> Vec<JournalId> {
    records
        .iter()
        .filter_map(|r| match r {
            JournalRecord::Completed { client_id, id } if client_id == "sub" => Some(*id),
            _ => None,
        })
        .collect()
}

#[test]
fn an_acknowledgement_after_a_restore_is_journaled_under_the_first_boots_id() {
    // First process (boot 3): the message is queued for the offline session, then saved.
    let mut w = journaled_world(3);
    let (mut s, _) = persistent(&mut w, ProtocolVersion::V3_1_1, "sub");
    subscribe(&mut w, &mut s, "q/#", QoS::AtLeastOnce);
    w.shard.connection_lost(w.now, s.id);
    let p = w.connect(ProtocolVersion::V3_1_1, "pub", true);
    publish(&mut w, &p, "q/1", b"a", QoS::AtLeastOnce, false);
    let seq = w
        .shard
        .take_journal()
        .iter()
        .find_map(|r| match r {
            JournalRecord::Published { seq, .. } => Some(*seq),
            _ => None,
        })
        .unwrap();
    let first = JournalId {
        boot: 3,
        seq: std::num::NonZeroU64::new(seq).unwrap(),
    };
    let saved = w.shard.snapshot_sessions(w.now);
    let sub = saved.iter().find(|s| s.client_id == "sub").unwrap();
    assert_eq!(sub.queued.len(), 1);
    assert_eq!(
        sub.queued[0].journal,
        Some(first),
        "the snapshot keeps the id"
    );

    // Second process (boot 9): restored, resumed, acknowledged.
    let mut w = World {
        shard: Shard::new(Limits::default(), 7),
        now: 1 << 40,
    };
    w.shard.enable_journal(9);
    w.shard.restore_sessions(w.now, saved);
    let (mut s, got) = resume(&mut w, ProtocolVersion::V3_1_1, "sub");
    let delivered = publishes(&got);
    assert_eq!(delivered.len(), 1);
    let QosPid::AtLeastOnce(pid) = delivered[0].qos_pid else {
        panic!("QoS 1 expected");
    };
    let _ = w.shard.take_journal();
    w.send(&s, Packet::PubAck(PubAck::new(pid)));
    let _ = w.recv(&mut s);
    assert_eq!(completed(&w.shard.take_journal()), [first]);

    // A message of this process carries this boot.
    let p = w.connect(ProtocolVersion::V3_1_1, "pub", true);
    publish(&mut w, &p, "q/2", b"b", QoS::AtLeastOnce, false);
    let got = w.recv(&mut s);
    let QosPid::AtLeastOnce(pid) = publishes(&got)[0].qos_pid else {
        panic!("QoS 1 expected");
    };
    w.send(&s, Packet::PubAck(PubAck::new(pid)));
    let ids = completed(&w.shard.take_journal());
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].boot, 9);
}
