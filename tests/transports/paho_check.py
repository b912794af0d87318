"""paho-mqtt round trip over one transport, for crates/brokkr/tests/transports_*.rs.

Connects one client (MQTT 5 unless --v311), subscribes to --topic (QoS 1, waiting for the
SUBACK), publishes --payload there (QoS 1) and prints `received: PAYLOAD` for what comes back.
Transports: plain TCP, TLS (--ca, optionally --cert/--key), websockets (--transport websockets,
with --ca for wss). Exits 0 when the message came back, 1 otherwise; every wait is bounded.
"""
import argparse
import ssl
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

p = argparse.ArgumentParser()
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--transport", choices=["tcp", "websockets"], default="tcp")
p.add_argument("--path", default="/mqtt", help="websocket path")
p.add_argument("--ca")
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--topic", default="paho/check")
p.add_argument("--payload", default="hello from paho")
p.add_argument("--v311", action="store_true")
args = p.parse_args()

protocol = mqtt.MQTTv311 if args.v311 else mqtt.MQTTv5
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="paho-check", protocol=protocol,
                transport=args.transport)
if args.transport == "websockets":
    c.ws_set_options(path=args.path)
if args.ca:
    c.tls_set(ca_certs=args.ca, certfile=args.cert, keyfile=args.key,
              cert_reqs=ssl.CERT_REQUIRED)

connected = threading.Event()
subscribed = threading.Event()
got = threading.Event()
received = []


def on_connect(_c, _u, _flags, reason, _props):
    print(f"connack: {reason}", flush=True)
    if not reason.is_failure:
        connected.set()


def on_subscribe(_c, _u, _mid, reasons, _props):
    print(f"suback: {[str(r) for r in reasons]}", flush=True)
    subscribed.set()


def on_message(_c, _u, msg):
    received.append(msg.payload.decode(errors="replace"))
    got.set()


c.on_connect = on_connect
c.on_subscribe = on_subscribe
c.on_message = on_message
try:
    c.connect(args.host, args.port, keepalive=30)
except Exception as e:  # a refused handshake is an answer, not a crash
    print(f"connect failed: {e!r}", flush=True)
    sys.exit(1)
c.loop_start()
ok = False
try:
    if not connected.wait(10):
        print("no CONNACK", flush=True)
    else:
        c.subscribe(args.topic, qos=1)
        if not subscribed.wait(10):
            print("no SUBACK", flush=True)
        else:
            c.publish(args.topic, args.payload.encode(), qos=1).wait_for_publish(timeout=10)
            if got.wait(10):
                for r in received:
                    print(f"received: {r}", flush=True)
                ok = args.payload in received
            else:
                print("nothing came back", flush=True)
finally:
    c.disconnect()
    c.loop_stop()
sys.exit(0 if ok else 1)
