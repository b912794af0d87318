//! The file format and its I/O: round trips, every kind of damage refused with its name, a
//! corrupt file moved aside while the load goes on, atomic saves. Also replays the fuzz seeds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_codec::*;
use brokkr_core::message::Message;
use brokkr_core::shard::SubOptions;
use brokkr_core::snapshot::*;
use brokkr_persist::*;
use brokkr_testkit::build;
use bytes::Bytes;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

const SAVED: u64 = 1_700_000_000_000;

fn message(topic: &str, payload: &[u8], qos: QoS, retain: bool, expiry: Option<u32>) -> Message {
    let mut properties = PublishPropertiesBuilder {
        message_expiry_interval_secs: expiry,
        ..Default::default()
    };
    if expiry.is_some() {
        properties.content_type = Some(build::string("text/plain"));
        properties.user_properties = vec![(build::string("k"), build::string("v"))];
    }
    let p = Publish {
        dup: false,
        qos_pid: QosPid::AtMostOnce,
        retain,
        topic: build::topic(topic),
        properties: properties.build().unwrap(),
        payload: Bytes::copy_from_slice(payload),
    };
    let mut m = Message::from_publish(p, build::topic(topic), 0);
    m.qos = qos;
    m
}

fn delivery(payload: &[u8], qos: QoS, age_ms: u64) -> DeliverySnapshot {
    DeliverySnapshot {
        message: message("d/t", payload, QoS::ExactlyOnce, false, Some(60)),
        age_ms,
        qos,
        retain: true,
        subscription_id: NonZeroU32::new(268_435_455),
        journal: None,
    }
}

/// `d` carrying journaled message (`boot`, `seq`).
fn journaled(d: DeliverySnapshot, boot: u64, seq: u64) -> DeliverySnapshot {
    let seq = std::num::NonZeroU64::new(seq).unwrap();
    DeliverySnapshot {
        journal: Some(brokkr_core::journal::JournalId { boot, seq }),
        ..d
    }
}

pub fn sample_sessions() -> Vec<SessionSnapshot> {
    let mut will = build::will(
        build::topic("w/t"),
        Bytes::from_static(b"bye"),
        QoS::AtLeastOnce,
        true,
    );
    will.properties.message_expiry_interval_secs = Some(10);
    will.properties.response_topic = Some(build::topic("reply/here"));
    will.properties.correlation_data = Some(Bytes::from_static(b"\x00\x01"));
    let opts = |qos, no_local, rap, id| SubOptions {
        qos,
        no_local,
        retain_as_published: rap,
        subscription_id: NonZeroU32::new(id),
    };
    vec![
        SessionSnapshot {
            client_id: "full".into(),
            username: Some("user \u{e9}".into()),
            version: ProtocolVersion::V5,
            expiry_secs: 3600,
            offline_for_ms: 12_345,
            subscriptions: vec![
                (
                    build::filter("a/+/c"),
                    opts(QoS::ExactlyOnce, true, false, 7),
                ),
                (
                    build::filter("$share/g/x/#"),
                    opts(QoS::AtMostOnce, false, true, 0),
                ),
            ],
            in_flight: vec![
                InFlightSnapshot::Publish(
                    build::pid(65_535),
                    journaled(delivery(b"one", QoS::AtLeastOnce, 5), 3, 1 << 10 | 1),
                ),
                InFlightSnapshot::PubRel(build::pid(3)),
                InFlightSnapshot::Publish(build::pid(4), delivery(b"two", QoS::ExactlyOnce, 0)),
            ],
            queued: vec![
                journaled(delivery(b"q1", QoS::AtLeastOnce, 9), u64::MAX, u64::MAX),
                delivery(b"", QoS::ExactlyOnce, 1),
            ],
            inbound_qos2: vec![build::pid(1), build::pid(9), build::pid(40_000)],
            last_packet_id: 65_535,
            will: Some(WillSnapshot {
                will,
                delay_ms: 30_000,
            }),
        },
        SessionSnapshot {
            client_id: "bare".into(),
            username: None,
            version: ProtocolVersion::V3_1,
            expiry_secs: u32::MAX,
            offline_for_ms: 0,
            subscriptions: vec![],
            in_flight: vec![],
            queued: vec![],
            inbound_qos2: vec![],
            last_packet_id: 0,
            will: None,
        },
    ]
}

pub fn sample_retained() -> Vec<RetainedSnapshot> {
    vec![
        RetainedSnapshot {
            message: message("a/b", b"payload", QoS::AtMostOnce, true, None),
            age_ms: 0,
        },
        RetainedSnapshot {
            message: message("x", &[0xff; 300], QoS::ExactlyOnce, true, Some(3600)),
            age_ms: u64::MAX,
        },
    ]
}

/// A fresh empty directory under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brokkr-persist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn files_round_trip() {
    let sessions = sample_sessions();
    let bytes = encode_sessions(SAVED, &sessions).unwrap();
    let decoded = decode_sessions(&bytes).unwrap();
    assert_eq!((decoded.saved_at_ms, &decoded.sessions), (SAVED, &sessions));
    let retained = sample_retained();
    let bytes = encode_retained(SAVED, &retained).unwrap();
    let decoded = decode_retained(&bytes).unwrap();
    assert_eq!((decoded.saved_at_ms, &decoded.messages), (SAVED, &retained));
    let empty = encode_sessions(0, &[]).unwrap();
    assert_eq!(decode_sessions(&empty).unwrap().sessions, vec![]);
}

#[test]
fn loaded_files_are_aged_by_the_time_down() {
    let bytes = encode_sessions(SAVED, &sample_sessions()).unwrap();
    let aged = decode_sessions(&bytes).unwrap().into_aged(SAVED + 1_000);
    assert_eq!(aged[0].offline_for_ms, 13_345);
    assert_eq!(aged[0].queued[0].age_ms, 1_009);
    assert_eq!(aged[0].will.as_ref().unwrap().delay_ms, 29_000);
    // A wall clock that went back counts as no time.
    let back = decode_sessions(&bytes).unwrap().into_aged(SAVED - 5);
    assert_eq!(back[0].offline_for_ms, 12_345);
}

#[test]
fn a_truncated_file_is_refused_at_every_length() {
    let bytes = encode_sessions(SAVED, &sample_sessions()).unwrap();
    for cut in 0..bytes.len() {
        assert!(decode_sessions(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn a_flipped_bit_anywhere_is_refused() {
    let bytes = encode_retained(SAVED, &sample_retained()).unwrap();
    for bit in 0..bytes.len() * 8 {
        let mut bad = bytes.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(decode_retained(&bad).is_err(), "bit {bit}");
    }
    let mut bad = bytes.clone();
    let last_body_byte = bytes.len() - 5;
    bad[last_body_byte] ^= 1;
    assert!(matches!(
        decode_retained(&bad),
        Err(PersistError::ChecksumMismatch { .. })
    ));
}

#[test]
fn wrong_magic_version_or_kind_is_named() {
    let bytes = encode_retained(SAVED, &sample_retained()).unwrap();
    let mut magic = bytes.clone();
    magic[..8].copy_from_slice(b"FlashMQR");
    assert_eq!(decode_retained(&magic), Err(PersistError::BadMagic));
    let mut version = bytes.clone();
    version[8..10].copy_from_slice(&7u16.to_be_bytes());
    assert_eq!(
        decode_retained(&version),
        Err(PersistError::UnsupportedVersion(7))
    );
    assert_eq!(decode_sessions(&bytes), Err(PersistError::WrongKind(1)));
}

#[test]
fn a_huge_count_fails_on_the_missing_bytes_without_allocating() {
    use brokkr_persist::fuzzing::decode_roundtrip;
    // Mode byte 2: a sessions body claiming 2^32-1 sessions with nothing behind.
    decode_roundtrip(&[2, 0xff, 0xff, 0xff, 0xff]);
    let bytes = encode_sessions(SAVED, &[]).unwrap();
    let mut body = bytes[frame::HEADER_BYTES..bytes.len() - 4].to_vec();
    body[..4].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut file = bytes[..frame::HEADER_BYTES].to_vec();
    file.extend_from_slice(&body);
    let crc = crc_of(&file);
    file.extend_from_slice(&crc.to_be_bytes());
    assert_eq!(decode_sessions(&file), Err(PersistError::Truncated));
}

fn crc_of(bytes: &[u8]) -> u32 {
    // CRC-32 (IEEE), bit by bit: an independent check of the crate's checksum.
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn invalid_records_are_refused_not_repaired() {
    let mut s = sample_sessions();
    s[1].expiry_secs = 0;
    let bytes = encode_sessions(SAVED, &s).unwrap();
    assert!(matches!(
        decode_sessions(&bytes),
        Err(PersistError::Invalid(_))
    ));
    let mut s = sample_sessions();
    s[0].in_flight.push(InFlightSnapshot::PubRel(build::pid(3)));
    let bytes = encode_sessions(SAVED, &s).unwrap();
    assert!(matches!(
        decode_sessions(&bytes),
        Err(PersistError::Invalid(_))
    ));
    let mut s = sample_sessions();
    s[0].queued[0].qos = QoS::AtMostOnce;
    let bytes = encode_sessions(SAVED, &s).unwrap();
    assert!(matches!(
        decode_sessions(&bytes),
        Err(PersistError::Invalid(_))
    ));
}

#[test]
fn save_replaces_atomically_and_load_reads_back() {
    let dir = temp_dir("save");
    assert!(matches!(load_sessions(&dir).unwrap(), LoadOutcome::Missing));
    save_sessions(&dir, SAVED, &sample_sessions()).unwrap();
    save_sessions(&dir, SAVED + 1, &sample_sessions()[1..]).unwrap();
    save_retained(&dir, SAVED, &sample_retained()).unwrap();
    assert_eq!(
        names(&dir),
        vec!["retained.db", "sessions.db"],
        "no temporary file left"
    );
    match load_sessions(&dir).unwrap() {
        LoadOutcome::Loaded(f) => assert_eq!((f.saved_at_ms, f.sessions.len()), (SAVED + 1, 1)),
        other => panic!("{other:?}"),
    }
    match load_retained(&dir).unwrap() {
        LoadOutcome::Loaded(f) => assert_eq!(f.messages, sample_retained()),
        other => panic!("{other:?}"),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(SESSIONS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "state files are private");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_file_is_moved_aside_and_loading_goes_on() {
    let dir = temp_dir("corrupt");
    let mut bytes = encode_sessions(SAVED, &sample_sessions()).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(dir.join(SESSIONS_FILE), &bytes).unwrap();
    save_retained(&dir, SAVED, &sample_retained()).unwrap();
    let moved = match load_sessions(&dir).unwrap() {
        LoadOutcome::Corrupt { moved_to, reason } => {
            assert!(
                matches!(
                    reason,
                    LoadFault::Invalid(PersistError::ChecksumMismatch { .. })
                ),
                "{reason}"
            );
            assert!(reason.to_string().starts_with("checksum mismatch"));
            moved_to
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(moved, dir.join("sessions.db.corrupt.1"));
    assert_eq!(
        std::fs::read(&moved).unwrap(),
        bytes,
        "kept as it was, for inspection"
    );
    // The other file still loads, and the next start finds no sessions file.
    assert!(matches!(
        load_retained(&dir).unwrap(),
        LoadOutcome::Loaded(_)
    ));
    assert!(matches!(load_sessions(&dir).unwrap(), LoadOutcome::Missing));
    // A second corrupt file does not overwrite the first one kept.
    std::fs::write(dir.join(SESSIONS_FILE), b"garbage").unwrap();
    match load_sessions(&dir).unwrap() {
        LoadOutcome::Corrupt { moved_to, reason } => {
            assert_eq!(moved_to, dir.join("sessions.db.corrupt.2"));
            assert!(matches!(reason, LoadFault::Invalid(PersistError::BadMagic)));
        }
        other => panic!("{other:?}"),
    }
    // Then the broker saves again and the next load is clean.
    save_sessions(&dir, SAVED, &[]).unwrap();
    assert!(matches!(
        load_sessions(&dir).unwrap(),
        LoadOutcome::Loaded(_)
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreadable_file_is_moved_aside_too() {
    let dir = temp_dir("unreadable");
    // A directory where the file should be cannot be read as one.
    std::fs::create_dir(dir.join(RETAINED_FILE)).unwrap();
    match load_retained(&dir).unwrap() {
        LoadOutcome::Corrupt { moved_to, reason } => {
            assert!(matches!(reason, LoadFault::Unreadable(_)), "{reason}");
            assert!(moved_to.is_dir());
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/persist")
}

/// Every committed seed goes through the fuzz target's function (so `cargo test` catches what
/// the fuzzer once found). Run with `BROKKR_WRITE_SEEDS=1` to regenerate the seeds.
#[test]
fn fuzz_seeds_replay() {
    use brokkr_persist::fuzzing::{decode_roundtrip, seed_from_file};
    if std::env::var_os("BROKKR_WRITE_SEEDS").is_some() {
        let dir = seeds_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let sessions = encode_sessions(SAVED, &sample_sessions()).unwrap();
        let retained = encode_retained(SAVED, &sample_retained()).unwrap();
        let mut raw = vec![0u8];
        raw.extend_from_slice(&sessions);
        std::fs::write(dir.join("sessions-file.bin"), raw).unwrap();
        std::fs::write(dir.join("sessions-body.bin"), seed_from_file(&sessions)).unwrap();
        std::fs::write(dir.join("retained-body.bin"), seed_from_file(&retained)).unwrap();
        let one = encode_sessions(SAVED, &sample_sessions()[..1]).unwrap();
        std::fs::write(dir.join("session-one-body.bin"), seed_from_file(&one)).unwrap();
    }
    let mut count = 0;
    for entry in std::fs::read_dir(seeds_dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        decode_roundtrip(&bytes);
        count += 1;
    }
    assert!(count >= 4, "seeds missing");
}
