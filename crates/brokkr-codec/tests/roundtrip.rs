//! Round-trip property tests: for every packet type in every protocol version, a generated valid
//! packet encodes, frames to its own length, and decodes back to the same value.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use arbitrary::Unstructured;
use brokkr_codec::fuzzing::generate::gen_packet_of;
use brokkr_codec::fuzzing::roundtrip;
use brokkr_codec::{PacketType, ProtocolVersion};
use proptest::prelude::*;

fn check(bytes: &[u8], version: ProtocolVersion, kind: PacketType) -> Result<(), TestCaseError> {
    let mut u = Unstructured::new(bytes);
    let packet = gen_packet_of(&mut u, version, kind);
    prop_assume!(packet.is_ok());
    let packet = packet.unwrap();
    prop_assert_eq!(packet.packet_type(), kind);
    roundtrip(&packet, version);
    Ok(())
}

macro_rules! roundtrip_tests {
    ($($name:ident: $version:expr, $kind:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            $(
                #[test]
                fn $name(bytes in prop::collection::vec(any::<u8>(), 64..1024)) {
                    check(&bytes, $version, $kind)?;
                }
            )*
        }
    };
}

use PacketType as T;
use ProtocolVersion::{V3_1 as V31, V3_1_1 as V311, V5};

roundtrip_tests! {
    v31_connect: V31, T::Connect;
    v31_connack: V31, T::ConnAck;
    v31_publish: V31, T::Publish;
    v31_puback: V31, T::PubAck;
    v31_pubrec: V31, T::PubRec;
    v31_pubrel: V31, T::PubRel;
    v31_pubcomp: V31, T::PubComp;
    v31_subscribe: V31, T::Subscribe;
    v31_suback: V31, T::SubAck;
    v31_unsubscribe: V31, T::Unsubscribe;
    v31_unsuback: V31, T::UnsubAck;
    v31_pingreq: V31, T::PingReq;
    v31_pingresp: V31, T::PingResp;
    v31_disconnect: V31, T::Disconnect;
    v311_connect: V311, T::Connect;
    v311_connack: V311, T::ConnAck;
    v311_publish: V311, T::Publish;
    v311_puback: V311, T::PubAck;
    v311_pubrec: V311, T::PubRec;
    v311_pubrel: V311, T::PubRel;
    v311_pubcomp: V311, T::PubComp;
    v311_subscribe: V311, T::Subscribe;
    v311_suback: V311, T::SubAck;
    v311_unsubscribe: V311, T::Unsubscribe;
    v311_unsuback: V311, T::UnsubAck;
    v311_pingreq: V311, T::PingReq;
    v311_pingresp: V311, T::PingResp;
    v311_disconnect: V311, T::Disconnect;
    v5_connect: V5, T::Connect;
    v5_connack: V5, T::ConnAck;
    v5_publish: V5, T::Publish;
    v5_puback: V5, T::PubAck;
    v5_pubrec: V5, T::PubRec;
    v5_pubrel: V5, T::PubRel;
    v5_pubcomp: V5, T::PubComp;
    v5_subscribe: V5, T::Subscribe;
    v5_suback: V5, T::SubAck;
    v5_unsubscribe: V5, T::Unsubscribe;
    v5_unsuback: V5, T::UnsubAck;
    v5_pingreq: V5, T::PingReq;
    v5_pingresp: V5, T::PingResp;
    v5_disconnect: V5, T::Disconnect;
    v5_auth: V5, T::Auth;
}

proptest! {
    /// Arbitrary bytes never panic the decoder, and whatever decodes re-encodes faithfully.
    #[test]
    // FlashMQ: testbufferToMqttPacketsFuzz
    fn arbitrary_bytes_decode_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for version in ProtocolVersion::ALL {
            brokkr_codec::fuzzing::decode_stream(&bytes, version);
        }
        brokkr_codec::fuzzing::frame(&bytes);
        brokkr_codec::fuzzing::property_block(&bytes);
        brokkr_codec::fuzzing::topic(&bytes);
    }
}
