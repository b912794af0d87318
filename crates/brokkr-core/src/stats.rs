//! Broker statistics and the `$SYS` topics that publish them.
//!
//! Every shard counts what happens on it in a plain [`ShardStats`] (no atomics on the hot
//! path); on each tick it reports a copy to the state all shards share. Shard 0 then publishes
//! the sums every [`SYS_INTERVAL_MS`] (and once at start-up) as retained QoS 0 messages under
//! `$SYS/`, with FlashMQ's topic names and the ones Mosquitto users ask for (version, uptime,
//! load averages, bytes, clients connected/disconnected/maximum). This module computes topics
//! and values only; it never reads a clock.

/// How often `$SYS` is published, as FlashMQ.
pub const SYS_INTERVAL_MS: u64 = 10_000;

/// Reads one counter out of [`ShardStats`].
type Counter = fn(&ShardStats) -> u64;

/// What one shard counted (totals since start) and holds now (gauges).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ShardStats {
    /// Connections accepted (FlashMQ's socket connects).
    pub socket_connects: u64,
    /// CONNECTs accepted.
    pub mqtt_connects: u64,
    /// PUBLISH packets received from clients.
    pub messages_received: u64,
    /// PUBLISH packets written to clients.
    pub messages_sent: u64,
    /// Retained messages set or cleared by a PUBLISH.
    pub retained_sets: u64,
    /// Bytes received from clients.
    pub bytes_received: u64,
    /// Bytes handed to the sockets of clients.
    pub bytes_sent: u64,
    /// Messages dropped for a session over its queue caps, a client's full buffer, or a
    /// backlog for another worker over its bound.
    pub messages_dropped: u64,
    /// Clients connected now (gauge).
    pub clients_connected: u64,
    /// Sessions, online and offline, now (gauge).
    pub sessions: u64,
    /// Connections open now, logged in or not (gauge).
    pub sockets_open: u64,
}

impl ShardStats {
    /// The sum of several shards' stats.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a ShardStats>) -> ShardStats {
        all.into_iter()
            .fold(ShardStats::default(), |a, b| ShardStats {
                socket_connects: a.socket_connects + b.socket_connects,
                mqtt_connects: a.mqtt_connects + b.mqtt_connects,
                messages_received: a.messages_received + b.messages_received,
                messages_sent: a.messages_sent + b.messages_sent,
                retained_sets: a.retained_sets + b.retained_sets,
                bytes_received: a.bytes_received + b.bytes_received,
                bytes_sent: a.bytes_sent + b.bytes_sent,
                messages_dropped: a.messages_dropped + b.messages_dropped,
                clients_connected: a.clients_connected + b.clients_connected,
                sessions: a.sessions + b.sessions,
                sockets_open: a.sockets_open + b.sockets_open,
            })
    }
}

/// Exponentially weighted rates per minute over 1, 5 and 15 minutes, as Mosquitto's load
/// averages.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LoadAverage {
    per_minute: [f64; 3],
}

impl LoadAverage {
    const WINDOWS_SECS: [f64; 3] = [60.0, 300.0, 900.0];

    /// Fold in `delta` events counted over `interval_ms`.
    pub fn update(&mut self, delta: u64, interval_ms: u64) {
        if interval_ms == 0 {
            return;
        }
        let secs = interval_ms as f64 / 1000.0;
        let rate = delta as f64 * 60.0 / secs;
        for (avg, window) in self.per_minute.iter_mut().zip(Self::WINDOWS_SECS) {
            let weight = 1.0 - (-secs / window).exp();
            *avg += (rate - *avg) * weight;
        }
    }

    /// The 1, 5 and 15 minute averages, per minute.
    pub fn values(&self) -> [f64; 3] {
        self.per_minute
    }
}

/// What the `$SYS` publisher remembers between rounds.
#[derive(Debug, Default, Clone)]
pub struct SysState {
    /// When the broker started.
    pub started_ms: u64,
    /// When the last round was published (None before the first).
    pub last_ms: Option<u64>,
    /// The totals then.
    pub last: ShardStats,
    /// Most clients connected at once, as seen at publication times.
    pub clients_maximum: u64,
    pub load_received: LoadAverage,
    pub load_sent: LoadAverage,
    pub load_bytes_received: LoadAverage,
    pub load_bytes_sent: LoadAverage,
}

/// Figures that do not come from [`ShardStats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SysGauges {
    /// Retained messages stored.
    pub retained: u64,
    /// Subscriptions in the tree.
    pub subscriptions: u64,
}

impl SysState {
    /// The `$SYS` topics and values for one round at `now_ms` with broker-wide totals `now`.
    pub fn round(
        &mut self,
        now_ms: u64,
        now: &ShardStats,
        gauges: SysGauges,
    ) -> Vec<(String, String)> {
        let interval_ms = self.last_ms.map_or(0, |t| now_ms.saturating_sub(t));
        let last = self.last;
        let delta = |f: Counter| f(now).saturating_sub(f(&last));
        if interval_ms > 0 {
            self.load_received
                .update(delta(|s| s.messages_received), interval_ms);
            self.load_sent
                .update(delta(|s| s.messages_sent), interval_ms);
            self.load_bytes_received
                .update(delta(|s| s.bytes_received), interval_ms);
            self.load_bytes_sent
                .update(delta(|s| s.bytes_sent), interval_ms);
        }
        self.clients_maximum = self.clients_maximum.max(now.clients_connected);
        let per_second = |d: u64| d.saturating_mul(1000).checked_div(interval_ms).unwrap_or(0);
        let mut out: Vec<(String, String)> = Vec::new();
        let mut put =
            |topic: &str, value: String| out.push((format!("$SYS/broker/{topic}"), value));
        // FlashMQ's topics.
        put("clients/total", now.clients_connected.to_string());
        let counters: [(&str, Counter); 5] = [
            ("clients/mqttconnects", |s| s.mqtt_connects),
            ("network/socketconnects", |s| s.socket_connects),
            ("load/messages/received", |s| s.messages_received),
            ("load/messages/sent", |s| s.messages_sent),
            ("load/messages/set_retained", |s| s.retained_sets),
        ];
        for (name, f) in counters {
            put(&format!("{name}/total"), f(now).to_string());
            put(
                &format!("{name}/persecond"),
                per_second(delta(f)).to_string(),
            );
        }
        put("retained messages/count", gauges.retained.to_string());
        put("sessions/total", now.sessions.to_string());
        put("subscriptions/count", gauges.subscriptions.to_string());
        // Mosquitto's, which FlashMQ users ask for (FlashMQ issue #147).
        put("version", format!("brokkr {}", env!("CARGO_PKG_VERSION")));
        let uptime_secs = now_ms.saturating_sub(self.started_ms) / 1000;
        put("uptime", format!("{uptime_secs} seconds"));
        put("clients/connected", now.clients_connected.to_string());
        put(
            "clients/disconnected",
            now.sessions
                .saturating_sub(now.clients_connected)
                .to_string(),
        );
        put("clients/maximum", self.clients_maximum.to_string());
        // brokkr's own: every open connection, those still in CONNECT or a login included.
        put("sockets/open", now.sockets_open.to_string());
        put("messages/received", now.messages_received.to_string());
        put("messages/sent", now.messages_sent.to_string());
        put("messages/dropped", now.messages_dropped.to_string());
        put("bytes/received", now.bytes_received.to_string());
        put("bytes/sent", now.bytes_sent.to_string());
        let loads = [
            ("load/messages/received", &self.load_received),
            ("load/messages/sent", &self.load_sent),
            ("load/bytes/received", &self.load_bytes_received),
            ("load/bytes/sent", &self.load_bytes_sent),
        ];
        for (name, load) in loads {
            for (window, value) in ["1min", "5min", "15min"].into_iter().zip(load.values()) {
                put(&format!("{name}/{window}"), format!("{value:.2}"));
            }
        }
        self.last_ms = Some(now_ms);
        self.last = *now;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(round: &'a [(String, String)], topic: &str) -> &'a str {
        round
            .iter()
            .find(|(t, _)| t == topic)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{topic} missing"))
    }

    #[test]
    fn totals_rates_and_gauges() {
        let mut sys = SysState {
            started_ms: 1_000,
            ..SysState::default()
        };
        let first = ShardStats {
            messages_received: 100,
            clients_connected: 3,
            sessions: 5,
            ..ShardStats::default()
        };
        let r = sys.round(1_000, &first, SysGauges::default());
        assert_eq!(value(&r, "$SYS/broker/load/messages/received/total"), "100");
        assert_eq!(
            value(&r, "$SYS/broker/load/messages/received/persecond"),
            "0"
        );
        assert_eq!(value(&r, "$SYS/broker/clients/disconnected"), "2");
        let second = ShardStats {
            messages_received: 1_100,
            clients_connected: 1,
            sessions: 1,
            ..ShardStats::default()
        };
        let gauges = SysGauges {
            retained: 7,
            subscriptions: 9,
        };
        let r = sys.round(11_000, &second, gauges);
        assert_eq!(
            value(&r, "$SYS/broker/load/messages/received/persecond"),
            "100"
        );
        assert_eq!(value(&r, "$SYS/broker/clients/maximum"), "3");
        assert_eq!(value(&r, "$SYS/broker/uptime"), "10 seconds");
        assert_eq!(value(&r, "$SYS/broker/retained messages/count"), "7");
        assert_eq!(value(&r, "$SYS/broker/subscriptions/count"), "9");
        // 6,000 per minute for 10 s moves the 1-minute average about 15% of the way.
        let one_min: f64 = value(&r, "$SYS/broker/load/messages/received/1min")
            .parse()
            .unwrap();
        assert!((900.0..1000.0).contains(&one_min), "{one_min}");
    }

    #[test]
    fn load_average_converges_to_a_steady_rate() {
        let mut load = LoadAverage::default();
        for _ in 0..600 {
            load.update(10, 10_000); // 60 per minute
        }
        for v in load.values() {
            assert!((v - 60.0).abs() < 0.5, "{v}");
        }
    }
}
