"""paho-mqtt against brokkr: MQTT 3.1.1 and 5.0, QoS 0/1/2, retained, will, user properties.

Usage: python3 paho_roundtrip.py PORT. Exits 0 when every check passed, 1 otherwise, printing
what failed. Every wait is bounded.
"""
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

PORT = int(sys.argv[1])
failures = []


def client(cid, protocol):
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=protocol)
    c.received = []
    c.got = threading.Event()
    def on_message(_c, _u, msg):
        c.received.append(msg)
        c.got.set()
    c.on_message = on_message
    return c


def check(name, cond):
    if not cond:
        failures.append(name)
    print(("ok   " if cond else "FAIL ") + name)


for protocol, label in [(mqtt.MQTTv311, "v311"), (mqtt.MQTTv5, "v5")]:
    sub = client(f"paho-sub-{label}", protocol)
    sub.connect("127.0.0.1", PORT)
    sub.loop_start()
    time.sleep(0.2)
    sub.subscribe(f"paho/{label}/#", qos=2)
    time.sleep(0.2)
    pub = client(f"paho-pub-{label}", protocol)
    pub.connect("127.0.0.1", PORT)
    pub.loop_start()
    for qos in (0, 1, 2):
        props = None
        if protocol == mqtt.MQTTv5:
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("k", f"q{qos}")]
        info = pub.publish(f"paho/{label}/q{qos}", f"payload-{qos}".encode(), qos=qos, properties=props)
        info.wait_for_publish(timeout=5)
    deadline = time.time() + 5
    while len(sub.received) < 3 and time.time() < deadline:
        time.sleep(0.05)
    got = sorted(m.payload.decode() for m in sub.received)
    check(f"{label}: QoS 0/1/2 delivered", got == ["payload-0", "payload-1", "payload-2"])
    if protocol == mqtt.MQTTv5:
        users = sorted(str(getattr(m.properties, "UserProperty", "")) for m in sub.received)
        check(f"{label}: user properties forwarded", all("k" in u for u in users) and len(users) == 3)
    # Retained: set, then a new subscriber receives it with the retain flag.
    pub.publish(f"paho/{label}/retained", b"kept", qos=1, retain=True).wait_for_publish(timeout=5)
    late = client(f"paho-late-{label}", protocol)
    late.connect("127.0.0.1", PORT)
    late.loop_start()
    late.subscribe(f"paho/{label}/retained", qos=1)
    late.got.wait(5)
    check(f"{label}: retained delivered on subscribe",
          len(late.received) == 1 and late.received[0].retain and late.received[0].payload == b"kept")
    # Will: a client that vanishes without DISCONNECT.
    sub.received.clear()
    doomed = client(f"paho-doomed-{label}", protocol)
    doomed.will_set(f"paho/{label}/will", b"gone", qos=1)
    doomed.connect("127.0.0.1", PORT)
    doomed.loop_start()
    time.sleep(0.2)
    doomed.loop_stop()
    doomed._sock.close()  # abrupt close: the broker must publish the will
    deadline = time.time() + 5
    while not any(m.topic.endswith("/will") for m in sub.received) and time.time() < deadline:
        time.sleep(0.05)
    check(f"{label}: will published on abnormal close", any(m.payload == b"gone" for m in sub.received))
    for c in (sub, pub, late):
        c.disconnect()
        c.loop_stop()


sys.exit(1 if failures else 0)
