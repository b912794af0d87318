//! Shard 0 publishes the broker's `$SYS` topics (values from [`crate::stats`]) as retained QoS 0
//! messages, every [`SYS_INTERVAL_MS`] and once at the first tick.

use super::Shard;
use crate::message::Message;
use crate::stats::{SYS_INTERVAL_MS, SysGauges};
use brokkr_codec::{QoS, TopicName};
use bytes::Bytes;
use std::sync::Arc;

impl Shard {
    /// Make this shard the broker's `$SYS` publisher, started at `now_ms`: the first round goes
    /// out at the next tick. A broker enables it on exactly one shard (FlashMQ: thread 0).
    pub fn enable_sys(&mut self, now_ms: u64) {
        self.sys = Some(crate::stats::SysState {
            started_ms: now_ms,
            ..Default::default()
        });
        self.sys_due_ms = now_ms;
    }

    /// Publish `$SYS` if this shard is the publisher and a round is due.
    pub(super) fn publish_sys_if_due(&mut self, now_ms: u64) {
        if self.sys.is_none() || now_ms < self.sys_due_ms {
            return;
        }
        self.sys_due_ms = now_ms.saturating_add(SYS_INTERVAL_MS);
        let totals = self.shared.totals();
        let gauges = SysGauges {
            retained: self.shared.retained_count() as u64,
            subscriptions: self.shared.subscription_count() as u64,
        };
        let Some(sys) = self.sys.as_mut() else {
            return;
        };
        for (topic, value) in sys.round(now_ms, &totals, gauges) {
            let Ok(topic) = TopicName::new(&topic) else {
                debug_assert!(false, "$SYS topic {topic} is invalid");
                continue;
            };
            let msg = Arc::new(Message {
                topic,
                payload: Bytes::from(value),
                qos: QoS::AtMostOnce,
                retain: true,
                properties: Default::default(),
                received_ms: now_ms,
            });
            self.retain(None, &msg);
            self.route(now_ms, None, msg);
        }
    }
}
