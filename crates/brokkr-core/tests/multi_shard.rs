//! Several shards sharing one broker, driven on one thread with a simulated clock: sessions
//! homed by client id, connections handed over before CONNACK, deliveries in batches between
//! shards, per-publisher order, takeover, retained messages, shared subscriptions and wills
//! across shards. The server runs the same shards on threads (brokkr-server's tests).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use brokkr_codec::*;
use brokkr_core::limits::Limits;
use brokkr_core::shard::{ConnId, Placement, Shard, SharedState, home_shard};
use brokkr_testkit::build::{self, encode};
use bytes::BytesMut;

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

struct Cluster {
    shards: Vec<Shard>,
    now: u64,
    /// Where handed-over connections went: (shard, conn) -> (shard, conn).
    moved: Vec<((usize, ConnId), (usize, ConnId))>,
}

struct Client {
    shard: usize,
    id: ConnId,
    v: ProtocolVersion,
    inbox: BytesMut,
}

impl Cluster {
    fn new(count: u32) -> Cluster {
        let shared = SharedState::new();
        let shards = (0..count)
            .map(|i| {
                let place = Placement::new(i, count).unwrap();
                Shard::with_placement(Limits::default(), 100 + u64::from(i), place, shared.clone())
            })
            .collect();
        Cluster {
            shards,
            now: 1_000,
            moved: Vec::new(),
        }
    }

    /// A client id of at least `prefix` whose home is `shard`.
    fn id_homed_on(&self, prefix: &str, shard: usize) -> String {
        let count = self.shards.len() as u32;
        (0..)
            .map(|i| format!("{prefix}-{i}"))
            .find(|id| home_shard(id.as_bytes(), count) as usize == shard)
            .unwrap()
    }

    /// A connection accepted by shard `on` (as a listener hands sockets round-robin).
    fn open(&mut self, on: usize, v: ProtocolVersion) -> Client {
        Client {
            shard: on,
            id: self.shards[on].accept(self.now),
            v,
            inbox: BytesMut::new(),
        }
    }

    /// Move hand-offs and delivery batches between shards until none is left, as the server's
    /// inboxes do.
    fn settle(&mut self) {
        loop {
            let mut moved_any = false;
            for from in 0..self.shards.len() {
                for h in self.shards[from].take_handoffs() {
                    let to = h.shard as usize;
                    let id = self.shards[to].accept_handoff(self.now, &h);
                    self.moved.push(((from, h.conn), (to, id)));
                    moved_any = true;
                }
                for to in 0..self.shards.len() {
                    let batch = self.shards[from].take_outbox(to as u32);
                    if !batch.is_empty() {
                        assert_ne!(from, to, "a shard never sends itself a batch");
                        self.shards[to].deliver_remote(self.now, batch);
                        moved_any = true;
                    }
                }
            }
            if !moved_any {
                return;
            }
        }
    }

    fn locate(&self, c: &mut Client) {
        while let Some(&(_, to)) = self.moved.iter().find(|(from, _)| *from == (c.shard, c.id)) {
            (c.shard, c.id) = to;
        }
    }

    fn send(&mut self, c: &mut Client, p: Packet) {
        self.locate(c);
        let bytes = encode(&p, c.v);
        self.shards[c.shard].bytes_received(self.now, c.id, &bytes);
        self.settle();
    }

    fn recv(&mut self, c: &mut Client) -> Vec<Packet> {
        self.locate(c);
        loop {
            let mut more = false;
            for s in &mut self.shards {
                more |= s.run_background(self.now, 1_000);
            }
            self.settle();
            if !more {
                break;
            }
        }
        let shard = &mut self.shards[c.shard];
        let out = shard.write_buffer(c.id).to_vec();
        shard.consumed(c.id, out.len());
        c.inbox.extend_from_slice(&out);
        let mut packets = Vec::new();
        while let Some(raw) = framer::next_packet(&mut c.inbox, usize::MAX).unwrap() {
            packets.push(Packet::decode(raw, c.v).unwrap());
        }
        packets
    }

    fn lose(&mut self, c: &mut Client) {
        self.locate(c);
        self.shards[c.shard].connection_lost(self.now, c.id);
        self.settle();
    }

    fn connect_with(&mut self, on: usize, v: ProtocolVersion, connect: Connect) -> Client {
        let mut c = self.open(on, v);
        self.send(&mut c, Packet::Connect(Box::new(connect)));
        let got = self.recv(&mut c);
        assert!(
            matches!(&got[..], [Packet::ConnAck(a)] if a.reason == ReasonCode::Success),
            "{got:?}"
        );
        c
    }

    fn connect(&mut self, on: usize, v: ProtocolVersion, id: &str) -> Client {
        self.connect_with(on, v, build::connect(v, id))
    }

    fn subscribe(&mut self, c: &mut Client, filter: &str, qos: QoS) {
        self.send(c, Packet::Subscribe(build::subscribe(1, &[filter], qos)));
        let got = self.recv(c);
        assert!(matches!(got.first(), Some(Packet::SubAck(_))), "{got:?}");
    }

    fn publish(&mut self, c: &mut Client, topic: &str, payload: &[u8], qos: QoS, retain: bool) {
        let mut p = build::publish(topic, payload, qos, retain);
        if qos != QoS::AtMostOnce {
            p.qos_pid = QosPid::from_parts(qos, build::pid(77));
        }
        self.send(c, Packet::Publish(p));
    }

    fn sessions(&self) -> Vec<usize> {
        self.shards.iter().map(Shard::session_count).collect()
    }
}

fn payloads(p: &[Packet]) -> Vec<Vec<u8>> {
    p.iter()
        .filter_map(|p| match p {
            Packet::Publish(x) => Some(x.payload.to_vec()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_connect_is_handed_to_the_home_shard_of_its_client_id() {
    let mut cl = Cluster::new(4);
    let id = cl.id_homed_on("sensor", 2);
    let mut c = cl.open(0, V5);
    let first = c.id;
    cl.shards[0].bytes_received(
        cl.now,
        c.id,
        &encode(&Packet::Connect(Box::new(build::connect(V5, &id))), V5),
    );
    assert!(
        cl.shards[0].write_buffer(first).is_empty(),
        "no CONNACK from shard 0"
    );
    let handoffs = cl.shards[0].take_handoffs();
    assert!(
        matches!(&handoffs[..], [h] if h.shard == 2 && h.conn == first),
        "{handoffs:?}"
    );
    let h = &handoffs[0];
    let id2 = cl.shards[2].accept_handoff(cl.now, h);
    (c.shard, c.id) = (2, id2);
    assert!(matches!(cl.recv(&mut c).first(), Some(Packet::ConnAck(_))));
    assert_eq!(cl.sessions(), vec![0, 0, 1, 0]);
    assert_eq!(cl.shards[0].connection_count(), 0, "nothing is left behind");
}

#[test]
fn bytes_sent_with_the_connect_follow_it_to_the_home_shard() {
    let mut cl = Cluster::new(3);
    let sub_id = cl.id_homed_on("sub", 1);
    let mut sub = cl.connect(1, V311, &sub_id);
    cl.subscribe(&mut sub, "t", QoS::AtMostOnce);
    // CONNECT and PUBLISH in one read, accepted on a shard that is not the publisher's home.
    let pub_id = cl.id_homed_on("pub", 2);
    let mut bytes = encode(
        &Packet::Connect(Box::new(build::connect(V311, &pub_id))),
        V311,
    );
    bytes.extend_from_slice(&encode(
        &Packet::Publish(build::publish("t", b"early", QoS::AtMostOnce, false)),
        V311,
    ));
    let p = cl.open(0, V311);
    cl.shards[0].bytes_received(cl.now, p.id, &bytes);
    cl.settle();
    assert_eq!(payloads(&cl.recv(&mut sub)), vec![b"early".to_vec()]);
}

#[test]
fn an_empty_client_id_gets_a_generated_id_homed_on_the_accepting_shard() {
    let mut cl = Cluster::new(4);
    for on in 0..4 {
        let mut c = cl.open(on, V5);
        cl.send(&mut c, Packet::Connect(Box::new(build::connect(V5, ""))));
        let got = cl.recv(&mut c);
        let Some(Packet::ConnAck(ack)) = got.first() else {
            panic!("{got:?}")
        };
        let id = ack.properties.assigned_client_identifier.as_ref().unwrap();
        assert_eq!(home_shard(id.as_str().as_bytes(), 4) as usize, on);
        assert_eq!(c.shard, on, "not handed over");
    }
}

#[test]
fn deliveries_cross_shards_in_publisher_order() {
    let mut cl = Cluster::new(4);
    let mut subs: Vec<Client> = (0..4)
        .map(|home| {
            let id = cl.id_homed_on("sub", home);
            let mut c = cl.connect(home, V5, &id);
            cl.subscribe(&mut c, "order/#", QoS::AtLeastOnce);
            c
        })
        .collect();
    let pub_id = cl.id_homed_on("pub", 3);
    let mut p = cl.connect(3, V311, &pub_id);
    let sent: Vec<Vec<u8>> = (0..200u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let mut got = vec![Vec::new(); subs.len()];
    for (i, payload) in sent.iter().enumerate() {
        let qos = [QoS::AtMostOnce, QoS::AtLeastOnce][i % 2];
        cl.publish(&mut p, "order/x", payload, qos, false);
        if i % 7 == 0 {
            for (s, g) in subs.iter_mut().zip(&mut got) {
                g.extend(payloads(&cl.recv(s)));
            }
        }
    }
    for (s, g) in subs.iter_mut().zip(&mut got) {
        g.extend(payloads(&cl.recv(s)));
    }
    for (home, g) in got.iter().enumerate() {
        assert_eq!(g, &sent, "subscriber homed on shard {home}");
    }
}

#[test]
fn a_takeover_across_shards_leaves_one_session() {
    let mut cl = Cluster::new(4);
    let id = cl.id_homed_on("car", 1);
    let mut first = cl.connect(0, V5, &id);
    // The same id arrives on two other shards; both are handed to shard 1.
    let mut second = cl.connect(2, V5, &id);
    let got = cl.recv(&mut first);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == ReasonCode::SessionTakenOver),
        "{got:?}"
    );
    let _third = cl.connect(3, V5, &id);
    let got = cl.recv(&mut second);
    assert!(matches!(&got[..], [Packet::Disconnect(_)]), "{got:?}");
    assert_eq!(cl.sessions(), vec![0, 1, 0, 0]);
    let live: usize = cl.shards.iter().map(Shard::connection_count).sum();
    assert_eq!(live, 3, "two old connections closing, one live");
    let closed: usize = cl.shards.iter_mut().map(|s| s.take_closed().len()).sum();
    assert_eq!(closed, 2);
}

#[test]
fn a_persistent_session_resumes_whichever_shard_accepts_the_reconnect() {
    let mut cl = Cluster::new(3);
    let id = cl.id_homed_on("fleet", 2);
    let mut connect = build::connect(V5, &id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval_secs = Some(300);
    let mut c = cl.connect_with(0, V5, connect.clone());
    cl.subscribe(&mut c, "cmd/#", QoS::AtLeastOnce);
    cl.lose(&mut c);
    let pub_id = cl.id_homed_on("ops", 0);
    let mut p = cl.connect(0, V5, &pub_id);
    cl.publish(&mut p, "cmd/reboot", b"now", QoS::AtLeastOnce, false);
    // Reconnect through shard 1: handed to 2, where the session and its queue wait.
    let mut again = cl.open(1, V5);
    cl.send(&mut again, Packet::Connect(Box::new(connect)));
    let got = cl.recv(&mut again);
    assert!(
        matches!(got.first(), Some(Packet::ConnAck(a)) if a.session_present),
        "{got:?}"
    );
    assert_eq!(payloads(&got), vec![b"now".to_vec()]);
}

#[test]
fn retained_messages_are_shared_by_all_shards() {
    let mut cl = Cluster::new(2);
    let pub_id = cl.id_homed_on("station", 0);
    let mut p = cl.connect(0, V311, &pub_id);
    cl.publish(&mut p, "weather/oslo", b"-3C", QoS::AtLeastOnce, true);
    cl.publish(&mut p, "weather/bergen", b"5C", QoS::AtMostOnce, true);
    let sub_id = cl.id_homed_on("screen", 1);
    let mut s = cl.connect(1, V311, &sub_id);
    cl.send(
        &mut s,
        Packet::Subscribe(build::subscribe(1, &["weather/+"], QoS::AtMostOnce)),
    );
    let mut got = payloads(&cl.recv(&mut s));
    got.sort();
    assert_eq!(got, vec![b"-3C".to_vec(), b"5C".to_vec()]);
    // A delete from the other shard is seen everywhere.
    cl.publish(&mut p, "weather/oslo", b"", QoS::AtMostOnce, true);
    assert_eq!(cl.shards[1].retained_count(), 1);
}

#[test]
fn a_shared_subscription_spanning_shards_delivers_each_message_once() {
    let mut cl = Cluster::new(3);
    let mut workers: Vec<Client> = (0..3)
        .map(|home| {
            let id = cl.id_homed_on("worker", home);
            let mut c = cl.connect(home, V5, &id);
            cl.subscribe(&mut c, "$share/pool/jobs/#", QoS::AtMostOnce);
            c
        })
        .collect();
    let pub_id = cl.id_homed_on("queue", 1);
    let mut p = cl.connect(1, V5, &pub_id);
    for i in 0..60u8 {
        cl.publish(&mut p, "jobs/build", &[i], QoS::AtMostOnce, false);
    }
    let mut all: Vec<Vec<u8>> = Vec::new();
    for w in &mut workers {
        let got = payloads(&cl.recv(w));
        assert!(!got.is_empty(), "every member gets a share of 60 messages");
        all.extend(got);
    }
    all.sort();
    let expected: Vec<Vec<u8>> = (0..60u8).map(|i| vec![i]).collect();
    assert_eq!(all, expected, "each message exactly once");
}

#[test]
fn a_will_reaches_subscribers_on_other_shards() {
    let mut cl = Cluster::new(2);
    let watcher_id = cl.id_homed_on("watcher", 0);
    let mut watcher = cl.connect(0, V311, &watcher_id);
    cl.subscribe(&mut watcher, "status/#", QoS::AtLeastOnce);
    let id = cl.id_homed_on("device", 1);
    let mut connect = build::connect(V311, &id);
    connect.will = Some(build::will(
        build::topic("status/device"),
        bytes::Bytes::from_static(b"gone"),
        QoS::AtLeastOnce,
        false,
    ));
    let mut d = cl.connect_with(0, V311, connect);
    cl.lose(&mut d);
    assert_eq!(payloads(&cl.recv(&mut watcher)), vec![b"gone".to_vec()]);
}

#[test]
fn shutdown_delivers_wills_across_shards_before_closing() {
    let mut cl = Cluster::new(2);
    let watcher_id = cl.id_homed_on("watcher", 1);
    let mut watcher = cl.connect(1, V5, &watcher_id);
    cl.subscribe(&mut watcher, "status/#", QoS::AtMostOnce);
    let id = cl.id_homed_on("device", 0);
    let mut connect = build::connect(V5, &id);
    connect.will = Some(build::will(
        build::topic("status/device"),
        bytes::Bytes::from_static(b"stopping"),
        QoS::AtMostOnce,
        false,
    ));
    cl.connect_with(0, V5, connect);
    let now = cl.now;
    for s in &mut cl.shards {
        s.shutdown_wills(now);
    }
    cl.settle();
    for s in &mut cl.shards {
        s.shutdown_close(now);
    }
    let got = cl.recv(&mut watcher);
    assert_eq!(payloads(&got), vec![b"stopping".to_vec()]);
    assert!(
        matches!(got.last(), Some(Packet::Disconnect(d)) if d.reason == ReasonCode::ServerShuttingDown),
        "{got:?}"
    );
    assert_eq!(cl.sessions(), vec![0, 0]);
    assert_eq!(cl.shards[0].shared().subscription_count(), 0);
}

#[test]
fn a_stale_remote_delivery_reaches_nobody() {
    // A batch can arrive after its session ended; the generation-checked key finds nothing.
    let mut cl = Cluster::new(2);
    let sub_id = cl.id_homed_on("brief", 1);
    let mut s = cl.connect(1, V311, &sub_id);
    cl.subscribe(&mut s, "x", QoS::AtLeastOnce);
    let pub_id = cl.id_homed_on("talker", 0);
    let mut p = cl.connect(0, V311, &pub_id);
    p.shard = 0;
    let bytes = encode(
        &Packet::Publish({
            let mut x = build::publish("x", b"late", QoS::AtLeastOnce, false);
            x.qos_pid = QosPid::from_parts(QoS::AtLeastOnce, build::pid(5));
            x
        }),
        V311,
    );
    cl.shards[0].bytes_received(cl.now, p.id, &bytes);
    let batch = cl.shards[0].take_outbox(1);
    assert_eq!(batch.len(), 1);
    cl.lose(&mut s); // clean session: ends now
    let next = cl.connect(1, V311, &cl.id_homed_on("newcomer", 1));
    cl.shards[1].deliver_remote(cl.now, batch);
    assert!(cl.shards[1].write_buffer(next.id).is_empty());
}

#[test]
fn sys_topics_count_the_whole_broker() {
    let mut cl = Cluster::new(2);
    let now = cl.now;
    cl.shards[0].enable_sys(now);
    let watcher_id = cl.id_homed_on("ops", 1);
    let mut watcher = cl.connect(1, V311, &watcher_id);
    // `#` never matches `$SYS` (MQTT-4.7.2-1): the watcher asks for it by name.
    cl.subscribe(&mut watcher, "#", QoS::AtMostOnce);
    let pub_id = cl.id_homed_on("meter", 0);
    let mut p = cl.connect(0, V311, &pub_id);
    for i in 0..5u8 {
        cl.publish(&mut p, "power/w", &[i], QoS::AtMostOnce, i == 4);
    }
    assert_eq!(payloads(&cl.recv(&mut watcher)).len(), 5);
    cl.subscribe(&mut watcher, "$SYS/#", QoS::AtMostOnce);
    cl.now += 10_000;
    let now = cl.now;
    cl.shards[1].tick(now);
    cl.shards[0].tick(now);
    cl.settle();
    let sys: std::collections::BTreeMap<String, String> = cl
        .recv(&mut watcher)
        .into_iter()
        .filter_map(|p| match p {
            Packet::Publish(x) => Some((
                x.topic.as_str().to_string(),
                String::from_utf8(x.payload.to_vec()).unwrap(),
            )),
            _ => None,
        })
        .collect();
    let get = |t: &str| sys.get(t).map(String::as_str);
    assert_eq!(get("$SYS/broker/load/messages/received/total"), Some("5"));
    assert_eq!(get("$SYS/broker/load/messages/sent/total"), Some("5"));
    assert_eq!(get("$SYS/broker/clients/mqttconnects/total"), Some("2"));
    assert_eq!(
        get("$SYS/broker/load/messages/set_retained/total"),
        Some("1")
    );
    assert_eq!(get("$SYS/broker/clients/total"), Some("2"));
    assert_eq!(get("$SYS/broker/sessions/total"), Some("2"));
    assert!(sys.len() >= 8, "{sys:?}");
    // Retained: a later subscriber gets them too, and the publisher's own $SYS topics are
    // not counted as client publishes.
    let late_id = cl.id_homed_on("late", 0);
    let mut late = cl.connect(0, V311, &late_id);
    cl.send(
        &mut late,
        Packet::Subscribe(build::subscribe(
            1,
            &["$SYS/broker/uptime"],
            QoS::AtMostOnce,
        )),
    );
    assert_eq!(payloads(&cl.recv(&mut late)), vec![b"10 seconds".to_vec()]);
    // A client cannot overwrite a $SYS value: acknowledged, neither retained nor delivered.
    let mut forged = build::publish("$SYS/broker/uptime", b"forever", QoS::AtLeastOnce, true);
    forged.qos_pid = QosPid::from_parts(QoS::AtLeastOnce, build::pid(9));
    cl.send(&mut p, Packet::Publish(forged));
    assert!(matches!(&cl.recv(&mut p)[..], [Packet::PubAck(_)]));
    assert!(cl.recv(&mut late).is_empty());
    let mut again = cl.connect(0, V311, &cl.id_homed_on("again", 0));
    cl.send(
        &mut again,
        Packet::Subscribe(build::subscribe(
            1,
            &["$SYS/broker/uptime"],
            QoS::AtMostOnce,
        )),
    );
    assert_eq!(payloads(&cl.recv(&mut again)), vec![b"10 seconds".to_vec()]);
}
