//! Unit tests: accessors, verbatim re-encoding, edits, the builder, and agreement of the in-place
//! check with the generic property decoder.

use super::*;
use crate::properties::{self as props, PropertySet};
use crate::string::MqttString;
use crate::topic::TopicName;
use bytes::BytesMut;

fn block(content: &[u8]) -> Vec<u8> {
    let mut b = vec![u8::try_from(content.len()).unwrap()];
    b.extend_from_slice(content);
    b
}

fn decode(content: &[u8]) -> Result<PublishProperties, DecodeError> {
    let mut r = Reader::new(Bytes::from(block(content)));
    let p = PublishProperties::decode(&mut r)?;
    assert!(r.is_empty());
    Ok(p)
}

fn reference(content: &[u8]) -> Result<PublishPropertiesBuilder, DecodeError> {
    let mut r = Reader::new(Bytes::from(block(content)));
    props::decode::<PublishPropertiesBuilder>(&mut r)
}

/// Content type "a", user property (k, v), expiry 60, subscription id 5, alias 3.
const SAMPLE: &[u8] = &[
    0x03, 0, 1, b'a', 0x26, 0, 1, b'k', 0, 1, b'v', 0x02, 0, 0, 0, 60, 0x0B, 5, 0x23, 0, 3,
];

#[test]
fn accessors_read_the_block() {
    let p = decode(SAMPLE).unwrap();
    assert_eq!(p.content_type(), Some("a"));
    assert_eq!(p.user_properties().collect::<Vec<_>>(), [("k", "v")]);
    assert_eq!(p.message_expiry_interval_secs(), Some(60));
    assert_eq!(
        p.subscription_identifiers()
            .map(|s| s.get())
            .collect::<Vec<_>>(),
        [5]
    );
    assert_eq!(p.topic_alias().map(|a| a.get()), Some(3));
    assert_eq!(p.payload_format_indicator(), None);
    assert_eq!(p.response_topic(), None);
    assert_eq!(p.as_bytes(), SAMPLE);
    assert_eq!(p.iter().count(), 5);
    assert_eq!(p.to_builder(), reference(SAMPLE).unwrap());
}

#[test]
fn no_op_edits_write_the_block_verbatim() {
    let p = decode(SAMPLE).unwrap();
    let edits = PropertyEdits::default();
    let len = p.edited_len(&edits).unwrap();
    let mut out = BytesMut::new();
    p.write_edited(&edits, len, &mut out);
    assert_eq!(&out[..], &block(SAMPLE)[..]);
}

#[test]
fn forwarding_edits_replace_in_place_and_append() {
    let p = decode(SAMPLE).unwrap();
    let ids = [NonZeroU32::new(9).unwrap(), NonZeroU32::new(300).unwrap()];
    let edits = PropertyEdits {
        remove: IdSet::EMPTY
            .with(id::TOPIC_ALIAS)
            .with(id::SUBSCRIPTION_IDENTIFIER)
            .with(id::MESSAGE_EXPIRY_INTERVAL),
        message_expiry_interval_secs: Some(50),
        topic_alias: NonZeroU16::new(7),
        subscription_identifiers: &ids,
    };
    let e = p.edited(&edits).unwrap();
    // Expiry where it was; the subscriber's identifiers where the publisher's stood; the alias
    // (received after them) at the place of the received one.
    let expected: &[u8] = &[
        0x03, 0, 1, b'a', 0x26, 0, 1, b'k', 0, 1, b'v', 0x02, 0, 0, 0, 50, 0x0B, 9, 0x0B, 0xAC,
        0x02, 0x23, 0, 7,
    ];
    assert_eq!(e.as_bytes(), expected);
    assert_eq!(p.edited_len(&edits).unwrap(), expected.len());
    let stripped = p.clone().without(
        IdSet::EMPTY
            .with(id::TOPIC_ALIAS)
            .with(id::SUBSCRIPTION_IDENTIFIER),
    );
    assert_eq!(stripped.topic_alias(), None);
    assert_eq!(stripped.subscription_identifiers().count(), 0);
    assert_eq!(stripped.message_expiry_interval_secs(), Some(60));
    // Nothing received: everything set is appended in a fixed order.
    let e = PublishProperties::default().edited(&edits).unwrap();
    assert_eq!(
        e.as_bytes(),
        &[0x02, 0, 0, 0, 50, 0x23, 0, 7, 0x0B, 9, 0x0B, 0xAC, 0x02]
    );
}

#[test]
fn builder_round_trips_through_the_block() {
    let b = PublishPropertiesBuilder {
        payload_format_indicator: Some(PayloadFormat::Utf8),
        message_expiry_interval_secs: Some(1),
        response_topic: Some(TopicName::new("r/t").unwrap()),
        correlation_data: Some(Bytes::from_static(b"c")),
        user_properties: vec![(MqttString::new("a").unwrap(), MqttString::new("b").unwrap())],
        content_type: Some(MqttString::new("text").unwrap()),
        ..Default::default()
    };
    let p = b.build().unwrap();
    assert_eq!(p.to_builder(), b);
    assert_eq!(decode(p.as_bytes()).unwrap(), p);
    assert!(
        PublishPropertiesBuilder::default()
            .build()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_in_place_check_fails_as_the_generic_decoder_does() {
    let cases: &[&[u8]] = &[
        &[0x23, 0, 0],                         // alias 0
        &[0x01, 2],                            // payload format 2
        &[0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 1], // duplicate
        &[0x11, 0, 0, 0, 1],                   // session expiry: not a PUBLISH property
        &[0x1F, 0, 1, 0],                      // reason string with U+0000: string error first
        &[0x08, 0, 1, b'#'],                   // response topic with a wildcard
        &[0x0B, 0],                            // subscription id 0
        &[0x7F],                               // unknown
        &[0x80, 0x01],                         // id 128
        &[0x03, 0, 5, b'a'],                   // runs past the packet
        &[0x26, 0, 1, b'k', 0, 1, 0xFF],       // bad UTF-8
        &[0x0B, 0x80, 0x00],                   // non-minimal VBI
    ];
    for &case in cases {
        let lazy = decode(case).map(|p| p.to_builder());
        assert_eq!(lazy, reference(case), "{case:?}");
        assert!(lazy.is_err(), "{case:?}");
    }
    // A value that starts inside the block and ends after it.
    let mut r = Reader::new(Bytes::from_static(&[2, 0x02, 0, 0, 0, 1]));
    let err = PublishProperties::decode(&mut r).unwrap_err();
    let mut r = Reader::new(Bytes::from_static(&[2, 0x02, 0, 0, 0, 1]));
    assert_eq!(Err(err), props::decode::<PublishPropertiesBuilder>(&mut r));
    assert_eq!(
        PublishPropertiesBuilder::REPEATABLE,
        1 << id::SUBSCRIPTION_IDENTIFIER
    );
}

#[test]
fn the_fuzz_oracle_holds_on_hand_picked_blocks() {
    crate::fuzzing::publish_block(&block(SAMPLE));
    crate::fuzzing::publish_block(&[0]);
    crate::fuzzing::publish_block(&[0xFF, 0x02, 0x02, 0, 0, 0, 9]);
    crate::fuzzing::publish_block(&[5, 0x02, 0, 0, 0, 9, b'p', b'a', b'y']);
    crate::fuzzing::publish_block(&[3, 0x23, 0, 0]);
}
