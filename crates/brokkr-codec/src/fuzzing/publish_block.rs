//! The PUBLISH property block oracle: the block is decoded two ways, validated in place and read
//! lazily (what the broker uses), and decoded eagerly into typed values by the generic property
//! decoder (the reference). They must accept and refuse the same inputs with the same errors, the
//! lazy accessors must agree with the eager values, the block must re-encode verbatim, and edits
//! chosen from the input must give a valid block that reads as edited.
#![allow(clippy::panic, clippy::indexing_slicing, clippy::expect_used)]

use crate::packet::{IdSet, PropertyEdits, PublishProperties, PublishPropertiesBuilder};
use crate::properties::{self, id};
use crate::reader::Reader;
use bytes::{Bytes, BytesMut};
use std::num::{NonZeroU16, NonZeroU32};

/// Decode `data` as a PUBLISH property block both ways and check them against each other.
pub fn publish_block(data: &[u8]) {
    let mut r = Reader::new(Bytes::copy_from_slice(data));
    let lazy = PublishProperties::decode(&mut r);
    let mut r_eager = Reader::new(Bytes::copy_from_slice(data));
    let eager = properties::decode::<PublishPropertiesBuilder>(&mut r_eager);
    let (lazy, eager) = match (lazy, eager) {
        (Ok(l), Ok(e)) => (l, e),
        (Err(l), Err(e)) => return assert_eq!(l, e, "the two decoders disagree on the error"),
        (l, e) => panic!("the two decoders disagree: {l:?} / {e:?}"),
    };
    let consumed = data.len() - r.remaining();
    assert_eq!(
        r.remaining(),
        r_eager.remaining(),
        "decoders consumed differently"
    );
    check_accessors(&lazy, &eager);
    // Verbatim re-encode: the bytes consumed.
    let mut out = BytesMut::new();
    let edits = PropertyEdits::default();
    let len = lazy.edited_len(&edits).expect("no-op edit");
    lazy.write_edited(&edits, len, &mut out);
    assert_eq!(&out[..], &data[..consumed], "re-encode is not verbatim");
    // The eager values build a block that reads back as the same values.
    let built = eager.build().expect("decoded values build");
    assert_eq!(built.to_builder(), eager, "built block reads differently");
    check_edits(data, &lazy, &eager);
}

/// Every accessor agrees with the eager decode.
fn check_accessors(lazy: &PublishProperties, eager: &PublishPropertiesBuilder) {
    assert_eq!(
        &lazy.to_builder(),
        eager,
        "lazy reading differs from the eager decode"
    );
    assert_eq!(
        lazy.payload_format_indicator(),
        eager.payload_format_indicator
    );
    assert_eq!(
        lazy.message_expiry_interval_secs(),
        eager.message_expiry_interval_secs
    );
    assert_eq!(lazy.topic_alias(), eager.topic_alias);
    let response_topic = eager.response_topic.as_ref().map(|t| t.as_str());
    assert_eq!(lazy.response_topic(), response_topic);
    assert_eq!(lazy.correlation_data(), eager.correlation_data.as_deref());
    assert_eq!(
        lazy.content_type(),
        eager.content_type.as_ref().map(|t| t.as_str())
    );
    let users = eager.user_properties.iter();
    assert!(
        lazy.user_properties()
            .eq(users.map(|(k, v)| (k.as_str(), v.as_str())))
    );
    let ids = eager.subscription_identifiers.iter().copied();
    assert!(lazy.subscription_identifiers().eq(ids));
}

/// Edits chosen from the input's first bytes give a valid block that reads as edited.
fn check_edits(data: &[u8], lazy: &PublishProperties, eager: &PublishPropertiesBuilder) {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let ids = [NonZeroU32::new(u32::from(byte(3)) << 20 | 1).expect("non-zero")];
    let removable = [
        id::MESSAGE_EXPIRY_INTERVAL,
        id::TOPIC_ALIAS,
        id::SUBSCRIPTION_IDENTIFIER,
        id::USER_PROPERTY,
        id::CONTENT_TYPE,
    ];
    let remove = (0..removable.len())
        .filter(|&i| byte(0) & (1 << i) != 0)
        .fold(IdSet::EMPTY, |s, i| s.with(removable[i]));
    let edits = PropertyEdits {
        remove,
        message_expiry_interval_secs: (byte(1) & 1 != 0).then_some(u32::from(byte(1))),
        topic_alias: NonZeroU16::new(u16::from(byte(2) & 0x0F)),
        subscription_identifiers: if byte(2) & 0x10 != 0 { &ids } else { &[] },
    };
    let Ok(edited) = lazy.edited(&edits) else {
        return;
    };
    let mut r = Reader::new(Bytes::from(with_length(edited.as_bytes())));
    let again = PublishProperties::decode(&mut r).expect("edited block is valid");
    assert_eq!(again, edited);
    // A property is present when set here, or received and not removed.
    let kept = |pid: u8, set: bool, received: bool| set || (received && !remove.contains(pid));
    let expiry = edits.message_expiry_interval_secs;
    assert_eq!(
        edited.message_expiry_interval_secs().is_some(),
        kept(
            id::MESSAGE_EXPIRY_INTERVAL,
            expiry.is_some(),
            eager.message_expiry_interval_secs.is_some()
        )
    );
    if expiry.is_some() {
        assert_eq!(edited.message_expiry_interval_secs(), expiry);
    }
    assert_eq!(
        edited.topic_alias().is_some(),
        kept(
            id::TOPIC_ALIAS,
            edits.topic_alias.is_some(),
            eager.topic_alias.is_some()
        )
    );
    if edits.topic_alias.is_some() {
        assert_eq!(edited.topic_alias(), edits.topic_alias);
    }
    if !edits.subscription_identifiers.is_empty() {
        assert!(edited.subscription_identifiers().eq(ids));
    }
    let users = if remove.contains(id::USER_PROPERTY) {
        0
    } else {
        eager.user_properties.len()
    };
    assert_eq!(edited.user_properties().count(), users);
}

/// `content` with its Variable Byte Integer length in front.
fn with_length(content: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    crate::vbi::write_vbi(&mut out, u32::try_from(content.len()).expect("short block"));
    out.extend_from_slice(content);
    out.to_vec()
}
