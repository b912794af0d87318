//! The websocket and PROXY protocol harnesses of `--fuzz-file`.
//!
//! Until the websocket and PROXY decoders land in brokkr-codec, these inputs are handled as
//! rejected input: the bytes are run through the plain MQTT path so they are still exercised.

use crate::fuzz::{Outcome, Transport, mqtt_connection};

/// Run `bytes` through the harness for `transport`.
pub fn run(transport: Transport, bytes: &[u8]) -> Outcome {
    debug_assert!(matches!(
        transport,
        Transport::Proxy | Transport::WebsocketHandshake | Transport::WebsocketUpgraded
    ));
    mqtt_connection(bytes)
}
