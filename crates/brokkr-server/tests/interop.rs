//! Real clients against the real server: Debian's mosquitto_pub and mosquitto_sub (MQTT 3.1.1
//! and 5.0, QoS 0/1/2, retained) and Python paho-mqtt (tests/interop/paho_roundtrip.py). The
//! test command installs them (scripts/install-deps.sh); a missing client fails the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Broker;
use std::process::{Command, Stdio};
use std::time::Duration;

fn mosquitto(bin: &str, port: u16, args: &[&str]) -> std::process::Child {
    Command::new("timeout")
        .arg("10")
        .arg(bin)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin} not runnable ({e}): run scripts/install-deps.sh"))
}

fn wait_output(child: std::process::Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn mosquitto_clients_publish_and_subscribe_in_every_version_and_qos() {
    let broker = Broker::start(4);
    for version in ["mqttv311", "mqttv5", "mqttv31"] {
        for qos in ["0", "1", "2"] {
            let topic = format!("interop/{version}/{qos}");
            let sub = mosquitto(
                "mosquitto_sub",
                broker.port,
                &["-V", version, "-q", qos, "-t", &topic, "-C", "1"],
            );
            std::thread::sleep(Duration::from_millis(300));
            let publisher = mosquitto(
                "mosquitto_pub",
                broker.port,
                &["-V", version, "-q", qos, "-t", &topic, "-m", "hello"],
            );
            wait_output(publisher);
            assert_eq!(wait_output(sub).trim(), "hello", "{version} QoS {qos}");
        }
    }
}

#[test]
fn mosquitto_retained_message_reaches_a_later_subscriber() {
    let broker = Broker::start(4);
    let p = mosquitto(
        "mosquitto_pub",
        broker.port,
        &["-t", "interop/retained", "-m", "kept", "-r", "-q", "1"],
    );
    wait_output(p);
    let sub = mosquitto(
        "mosquitto_sub",
        broker.port,
        &["-V", "mqttv5", "-t", "interop/#", "-C", "1", "-v"],
    );
    assert_eq!(wait_output(sub).trim(), "interop/retained kept");
}

#[test]
fn paho_mqtt_v311_and_v5() {
    let broker = Broker::start(4);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/paho_roundtrip.py"
    );
    let out = Command::new("timeout")
        .args(["60", "python3", script, &broker.port.to_string()])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "paho checks failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.matches("ok ").count(), 7, "{text}");
}

#[test]
fn rumqttc_v311_and_v5_round_trip() {
    let broker = Broker::start(4);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // MQTT 3.1.1.
        let mut opts = rumqttc::MqttOptions::new("rumq-311", "127.0.0.1", broker.port);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = rumqttc::AsyncClient::new(opts, 10);
        client
            .subscribe("rumq/311", rumqttc::QoS::AtLeastOnce)
            .await
            .unwrap();
        client
            .publish("rumq/311", rumqttc::QoS::AtLeastOnce, false, "hi 311")
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) =
                    events.poll().await.unwrap()
                {
                    return p.payload;
                }
            }
        })
        .await
        .expect("3.1.1 publish not received");
        assert_eq!(&got[..], b"hi 311");
        // MQTT 5.
        let mut opts = rumqttc::v5::MqttOptions::new("rumq-5", "127.0.0.1", broker.port);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = rumqttc::v5::AsyncClient::new(opts, 10);
        client
            .subscribe("rumq/5", rumqttc::v5::mqttbytes::QoS::ExactlyOnce)
            .await
            .unwrap();
        client
            .publish(
                "rumq/5",
                rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
                false,
                "hi 5",
            )
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let rumqttc::v5::Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::Publish(
                    p,
                )) = events.poll().await.unwrap()
                {
                    return p.payload;
                }
            }
        })
        .await
        .expect("5.0 publish not received");
        assert_eq!(&got[..], b"hi 5");
    });
}
