#!/usr/bin/env python3
"""Record "golden bytes" sent by real MQTT clients, for brokkr-codec's tests.

For every scenario below this script starts a tiny fake MQTT server on
127.0.0.1 (ephemeral port) that speaks just enough MQTT at the byte level to
keep one client going (CONNACK, SUBACK, UNSUBACK, PUBACK, PUBREC, PUBREL,
PUBCOMP, PINGRESP, and one or more PUBLISHes towards subscribers so that they
send their acks), runs the client against it with a timeout, and writes every
byte the client sent on each connection to

    crates/brokkr-codec/tests/golden/<name>.bin

plus index.tsv (file, protocol level, client, description) and README.md.

Clients: mosquitto_pub / mosquitto_sub (Debian package mosquitto-clients) and
paho-mqtt 2.x (PyPI). The paho scenarios run in a child process of this same
script (``--paho-client NAME --port PORT``) so that every client is a separate
process with its own timeout.

Usage:
    python3 scripts/capture-golden.py            # (re)generate everything
    python3 scripts/capture-golden.py --check    # capture to a temp dir, compare
    python3 scripts/capture-golden.py --only NAME [--only NAME ...]
    python3 scripts/capture-golden.py --list

Python 3.11, stdlib only, plus paho-mqtt (``pip install 'paho-mqtt==2.*'``)
for the paho scenarios.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = ROOT / "crates" / "brokkr-codec" / "tests" / "golden"
SCRIPT_REL = "scripts/capture-golden.py"

CLIENT_TIMEOUT = 10.0  # seconds per client run
HOST = "127.0.0.1"

# ---------------------------------------------------------------------------
# MQTT byte-level helpers
# ---------------------------------------------------------------------------

PACKET_NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
    6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE",
    11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH",
}


class Malformed(Exception):
    pass


def encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def decode_varint(buf: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """Return (value, new_pos), or None if buf ends before the integer does."""
    value = 0
    mult = 1
    for i in range(4):
        if pos + i >= len(buf):
            return None
        byte = buf[pos + i]
        value += (byte & 0x7F) * mult
        if not byte & 0x80:
            return value, pos + i + 1
        mult *= 128
    raise Malformed("variable byte integer longer than 4 bytes")


def take_packet(buf: bytearray) -> tuple[int, bytes] | None:
    """Remove one complete packet from buf; return (first byte, body)."""
    if not buf:
        return None
    decoded = decode_varint(buf, 1)
    if decoded is None:
        return None
    length, pos = decoded
    if len(buf) < pos + length:
        return None
    first = buf[0]
    body = bytes(buf[pos:pos + length])
    del buf[:pos + length]
    return first, body


def split_packets(data: bytes) -> list[tuple[int, bytes]]:
    buf = bytearray(data)
    packets = []
    while buf:
        pkt = take_packet(buf)
        if pkt is None:
            raise Malformed(f"{len(buf)} trailing bytes do not form a packet")
        packets.append(pkt)
    return packets


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + encode_varint(len(body)) + body


def read_u16(body: bytes, pos: int) -> tuple[int, int]:
    if pos + 2 > len(body):
        raise Malformed("truncated two byte integer")
    return int.from_bytes(body[pos:pos + 2], "big"), pos + 2


def skip_properties(body: bytes, pos: int) -> int:
    decoded = decode_varint(body, pos)
    if decoded is None:
        raise Malformed("truncated property length")
    length, pos = decoded
    return pos + length


def connect_level(body: bytes) -> int:
    name_len, pos = read_u16(body, 0)
    pos += name_len
    if pos >= len(body):
        raise Malformed("CONNECT without protocol level")
    return body[pos]


def describe_packet(first: int, body: bytes, level: int) -> str:
    ptype = first >> 4
    name = PACKET_NAMES.get(ptype, f"TYPE{ptype}")
    if ptype == 1:
        try:
            return f"CONNECT(v{ {3: '3.1', 4: '3.1.1', 5: '5'}.get(connect_level(body), '?') })"
        except Malformed:
            return "CONNECT(?)"
    if ptype == 3:
        qos = (first >> 1) & 3
        flags = f"q{qos}" + (",retain" if first & 1 else "") + (",dup" if first & 8 else "")
        return f"PUBLISH({flags})"
    if ptype == 14 and level == 5 and body:
        return f"DISCONNECT(rc=0x{body[0]:02x})"
    return name


def describe_stream(data: bytes) -> tuple[int | None, list[str]]:
    """Protocol level (from the CONNECT) and packet names of a recorded stream."""
    packets = split_packets(data)
    level = None
    names = []
    for first, body in packets:
        if first >> 4 == 1 and level is None:
            try:
                level = connect_level(body)
            except Malformed:
                pass
        names.append(describe_packet(first, body, level or 4))
    return level, names


def compress_names(names: list[str]) -> str:
    """"PUBLISH(q0) PUBLISH(q0) PUBLISH(q0)" -> "3xPUBLISH(q0)"."""
    out: list[str] = []
    i = 0
    while i < len(names):
        j = i
        while j < len(names) and names[j] == names[i]:
            j += 1
        out.append(names[i] if j - i == 1 else f"{j - i}x{names[i]}")
        i = j
    return " ".join(out)


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Scenario:
    name: str
    level: int  # 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0
    client: str  # "mosquitto_pub", "mosquitto_sub" or "paho"
    description: str
    args: list[str] = dataclasses.field(default_factory=list)  # mosquitto_* args after -h/-p
    stdin: bytes | None = None
    deliver: list[int] = dataclasses.field(default_factory=list)  # QoS of PUBLISHes sent to the client
    deliver_after: str = "suback"  # or "unsuback"
    deliver_topic: str = "golden/deliver"
    varies: str = ""  # why the bytes may differ between runs ("" = deterministic)

    def argv(self, port: int | str) -> list[str]:
        if self.client == "paho":
            return [sys.executable, str(Path(__file__).resolve()), "--paho-client", self.name,
                    "--port", str(port)]
        return [self.client, "-h", HOST, "-p", str(port), *self.args]

    def display_command(self) -> str:
        if self.client == "paho":
            return f"python3 {SCRIPT_REL} --paho-client {self.name} --port PORT"
        cmd = shlex.join(self.argv("PORT"))
        if self.stdin is not None:
            cmd = f"<{len(self.stdin)} bytes on stdin> | {cmd}"
        return cmd


V = {3: "mqttv31", 4: "mqttv311", 5: "mqttv5"}
LARGE_PAYLOAD = bytes((i * 7 + 13) % 256 for i in range(300))
HUGE_PAYLOAD = bytes((i * 31 + 5) % 251 for i in range(17000))


def client_id(name: str, level: int) -> str:
    # MQTT 3.1 servers may reject client ids longer than 23 characters.
    cid = f"golden-{name}"
    if level == 3 and len(cid) > 23:
        cid = "g-" + name.replace("mosquitto_", "")[:21]
    return cid


def pub(name: str, level: int, desc: str, *args: str, **kw) -> Scenario:
    return Scenario(name, level, "mosquitto_pub", desc,
                    ["-V", V[level], "-i", client_id(name, level), *args], **kw)


def sub(name: str, level: int, desc: str, *args: str, **kw) -> Scenario:
    return Scenario(name, level, "mosquitto_sub", desc,
                    ["-V", V[level], "-i", client_id(name, level), *args], **kw)


def paho(name: str, level: int, desc: str, **kw) -> Scenario:
    return Scenario(name, level, "paho", desc, **kw)


SCENARIOS: list[Scenario] = [
    # --- mosquitto_pub, MQTT 3.1.1 -------------------------------------------------
    pub("mosquitto_pub-v311-qos0", 4, "QoS 0 publish", "-t", "golden/t", "-m", "hello", "-q", "0"),
    pub("mosquitto_pub-v311-qos1", 4, "QoS 1 publish (PUBACK)", "-t", "golden/t", "-m", "hello", "-q", "1"),
    pub("mosquitto_pub-v311-qos2", 4, "QoS 2 publish (PUBREC, PUBREL, PUBCOMP)",
        "-t", "golden/t", "-m", "hello", "-q", "2"),
    pub("mosquitto_pub-v311-retain", 4, "retained QoS 1 publish", "-t", "golden/retained", "-m", "kept",
        "-q", "1", "-r"),
    pub("mosquitto_pub-v311-retain-clear", 4, "zero-length retained publish (clears a retained message)",
        "-t", "golden/retained", "-n", "-r"),
    pub("mosquitto_pub-v311-will", 4, "CONNECT with will (QoS 1, retained), QoS 0 publish",
        "-t", "golden/t", "-m", "alive", "--will-topic", "golden/will", "--will-payload", "gone",
        "--will-qos", "1", "--will-retain"),
    pub("mosquitto_pub-v311-userpass", 4, "CONNECT with username and password, non-default keepalive",
        "-t", "golden/t", "-m", "secret", "-u", "alice", "-P", "s3cr3t", "-k", "30"),
    pub("mosquitto_pub-v311-persistent", 4, "clean session 0 (-c), QoS 1 publish",
        "-t", "golden/t", "-m", "persist", "-q", "1", "-c"),
    pub("mosquitto_pub-v311-lines-qos1", 4, "three QoS 1 publishes on one connection (-l, stdin lines)",
        "-t", "golden/lines", "-q", "1", "-l", stdin=b"one\ntwo\nthree\n"),
    pub("mosquitto_pub-v311-payload300", 4, "300 byte binary payload (2 byte remaining length), QoS 1",
        "-t", "golden/big", "-q", "1", "-s", stdin=LARGE_PAYLOAD),
    pub("mosquitto_pub-v311-utf8-topic", 4, "multi-byte UTF-8 topic and payload",
        "-t", "golden/ünïcödé/日本", "-m", "héllo wörld ✓", "-q", "1"),
    # --- mosquitto_pub, MQTT 3.1 ---------------------------------------------------
    pub("mosquitto_pub-v31-qos0", 3, "MQTT 3.1 (MQIsdp) QoS 0 publish", "-t", "golden/t", "-m", "old"),
    pub("mosquitto_pub-v31-qos2-will", 3, "MQTT 3.1 (MQIsdp) with will and username/password, QoS 2",
        "-t", "golden/t", "-m", "old", "-q", "2", "--will-topic", "golden/will", "--will-payload", "bye",
        "--will-qos", "2", "-u", "bob", "-P", "pw"),
    # --- mosquitto_pub, MQTT 5 -----------------------------------------------------
    pub("mosquitto_pub-v5-qos0", 5, "QoS 0 publish", "-t", "golden/t", "-m", "hello", "-q", "0"),
    pub("mosquitto_pub-v5-qos1", 5, "QoS 1 publish (PUBACK)", "-t", "golden/t", "-m", "hello", "-q", "1"),
    pub("mosquitto_pub-v5-qos2", 5, "QoS 2 publish (PUBREC, PUBREL, PUBCOMP)",
        "-t", "golden/t", "-m", "hello", "-q", "2"),
    pub("mosquitto_pub-v5-retain", 5, "retained QoS 2 publish", "-t", "golden/retained", "-m", "kept",
        "-q", "2", "-r"),
    pub("mosquitto_pub-v5-will-props", 5, "will (QoS 2, retained) with will properties",
        "-t", "golden/t", "-m", "alive", "--will-topic", "golden/will", "--will-payload", "gone",
        "--will-qos", "2", "--will-retain",
        "-D", "will", "will-delay-interval", "10",
        "-D", "will", "message-expiry-interval", "120",
        "-D", "will", "content-type", "text/plain",
        "-D", "will", "payload-format-indicator", "1",
        "-D", "will", "response-topic", "golden/will/resp",
        "-D", "will", "correlation-data", "will-corr",
        "-D", "will", "user-property", "wk", "wv"),
    pub("mosquitto_pub-v5-userpass", 5, "CONNECT with username and password",
        "-t", "golden/t", "-m", "secret", "-u", "alice", "-P", "s3cr3t", "-q", "1"),
    pub("mosquitto_pub-v5-publish-props", 5,
        "QoS 1 publish with user properties, message expiry, content type, response topic, "
        "correlation data, payload format indicator",
        "-t", "golden/props", "-m", "{\"v\":1}", "-q", "1",
        "-D", "publish", "user-property", "a", "b",
        "-D", "publish", "user-property", "a", "c",
        "-D", "publish", "message-expiry-interval", "30",
        "-D", "publish", "content-type", "text/plain",
        "-D", "publish", "response-topic", "r/t",
        "-D", "publish", "correlation-data", "corr-123",
        "-D", "publish", "payload-format-indicator", "1"),
    pub("mosquitto_pub-v5-topic-alias", 5, "QoS 0 publish twice (--repeat 2) with topic alias 1",
        "-t", "golden/alias", "-m", "aliased", "--repeat", "2", "--repeat-delay", "0",
        "-D", "connect", "topic-alias-maximum", "10",
        "-D", "publish", "topic-alias", "1"),
    pub("mosquitto_pub-v5-connect-props", 5,
        "CONNECT with session expiry, receive maximum, maximum packet size, topic alias maximum, "
        "request problem/response information, user property",
        "-t", "golden/t", "-m", "props", "-q", "1",
        "-D", "connect", "session-expiry-interval", "60",
        "-D", "connect", "receive-maximum", "20",
        "-D", "connect", "maximum-packet-size", "65536",
        "-D", "connect", "topic-alias-maximum", "5",
        "-D", "connect", "request-problem-information", "0",
        "-D", "connect", "request-response-information", "1",
        "-D", "connect", "user-property", "client", "golden"),
    pub("mosquitto_pub-v5-disconnect-props", 5,
        "session expiry 60 (-x), DISCONNECT with session expiry and user property",
        "-t", "golden/t", "-m", "bye", "-x", "60",
        "-D", "disconnect", "session-expiry-interval", "30",
        "-D", "disconnect", "user-property", "why", "done"),
    pub("mosquitto_pub-v5-payload17000", 5,
        "17000 byte binary payload (3 byte remaining length), QoS 2", "-t", "golden/huge", "-q", "2", "-s",
        stdin=HUGE_PAYLOAD),
    pub("mosquitto_pub-v5-lines-qos2", 5, "three QoS 2 publishes on one connection (-l, stdin lines)",
        "-t", "golden/lines", "-q", "2", "-l", stdin=b"one\ntwo\nthree\n"),
    # --- mosquitto_sub -------------------------------------------------------------
    sub("mosquitto_sub-v311-qos0", 4, "subscribe QoS 0, receive one QoS 0 PUBLISH, disconnect",
        "-t", "golden/t", "-q", "0", "-C", "1", deliver=[0]),
    sub("mosquitto_sub-v311-wildcards-qos1", 4,
        "subscribe to four filters with + and # at QoS 1, receive QoS 1 (PUBACK)",
        "-t", "golden/+/temp", "-t", "golden/home/#", "-t", "+/+", "-t", "#", "-q", "1", "-C", "1",
        deliver=[1]),
    sub("mosquitto_sub-v311-qos2", 4, "subscribe QoS 2, receive QoS 2 (PUBREC, PUBCOMP)",
        "-t", "golden/t", "-q", "2", "-C", "1", deliver=[2]),
    sub("mosquitto_sub-v311-unsubscribe", 4, "subscribe two filters, unsubscribe one (-U), receive QoS 1",
        "-t", "golden/a", "-t", "golden/b/#", "-U", "golden/b/#", "-q", "1", "-C", "1",
        deliver=[1], deliver_after="unsuback"),
    sub("mosquitto_sub-v311-persistent-all-qos", 4,
        "clean session 0 (-c), keepalive 5, receive QoS 0, 1 and 2 (-C 3)",
        "-t", "golden/#", "-q", "2", "-c", "-k", "5", "-C", "3", deliver=[0, 1, 2]),
    sub("mosquitto_sub-v31-qos1", 3, "MQTT 3.1 (MQIsdp) subscribe QoS 1, receive QoS 1",
        "-t", "golden/t", "-q", "1", "-C", "1", deliver=[1]),
    sub("mosquitto_sub-v5-qos0", 5, "subscribe QoS 0, receive QoS 0",
        "-t", "golden/t", "-q", "0", "-C", "1", deliver=[0]),
    sub("mosquitto_sub-v5-qos2-props", 5,
        "subscribe three filters at QoS 2 with user properties on CONNECT/SUBSCRIBE, receive QoS 2",
        "-t", "golden/+/temp", "-t", "golden/home/#", "-t", "golden/t", "-q", "2", "-C", "1",
        "-D", "connect", "user-property", "ck", "cv",
        "-D", "subscribe", "user-property", "sk", "sv",
        deliver=[2]),
    sub("mosquitto_sub-v5-subscription-id", 5,
        "subscribe two filters at QoS 1 with subscription identifier 7 (-D subscribe), receive QoS 1",
        "-t", "golden/+/id", "-t", "golden/deliver", "-q", "1", "-C", "1",
        "-D", "subscribe", "subscription-identifier", "7", deliver=[1]),
    sub("mosquitto_sub-v5-unsubscribe", 5,
        "subscribe two filters, unsubscribe one (-U) with a user property, receive QoS 1",
        "-t", "golden/a", "-t", "golden/b/+", "-U", "golden/b/+", "-q", "1", "-C", "1",
        "-D", "unsubscribe", "user-property", "uk", "uv",
        deliver=[1], deliver_after="unsuback"),
    sub("mosquitto_sub-v5-session-all-qos", 5,
        "session expiry 300 (-c -x 300), DISCONNECT properties, receive QoS 0, 1 and 2 (-C 3)",
        "-t", "golden/#", "-q", "2", "-c", "-x", "300", "-C", "3",
        "-D", "disconnect", "user-property", "dk", "dv", deliver=[0, 1, 2]),
    # --- paho-mqtt -----------------------------------------------------------------
    paho("paho-v311-clean-session", 4,
         "clean session 1; publish QoS 0/1/2; subscribe 3 filters (QoS 0/1/2); receive QoS 1; "
         "unsubscribe 2 filters; disconnect", deliver=[1]),
    paho("paho-v311-persistent-will-auth", 4,
         "clean session 0, will (QoS 2, retained), username/password, keepalive 15; retained QoS 1 publish",
         ),
    paho("paho-v311-receive-qos2", 4, "subscribe QoS 2, receive QoS 2 (PUBREC, PUBCOMP)", deliver=[2]),
    paho("paho-v311-keepalive", 4, "keepalive 1 s, idle ~2.2 s (PINGREQ), disconnect",
         varies="number of PINGREQs depends on timing"),
    paho("paho-v31-basic", 3, "MQTT 3.1 (MQIsdp): publish QoS 1, subscribe, receive QoS 0, disconnect",
         deliver=[0]),
    paho("paho-v5-clean-start-publish-props", 5,
         "clean start 1, CONNECT properties; publish QoS 0/1/2 with user properties, message expiry, "
         "payload format indicator, content type, response topic, correlation data"),
    paho("paho-v5-topic-alias", 5,
         "publish QoS 1 with topic + topic alias 1, then QoS 1 and QoS 0 with empty topic + alias 1"),
    paho("paho-v5-subscribe-options", 5,
         "clean start 0, session expiry; subscribe with no local / retain as published / retain handling "
         "0,1,2, subscription identifier 7 and user property; receive QoS 2; unsubscribe with user "
         "property; DISCONNECT reason 0x04 with properties", deliver=[2]),
    paho("paho-v5-will-props", 5,
         "will with will properties, username/password; publish QoS 2; DISCONNECT reason 0x00 with "
         "reason string"),
    paho("paho-v5-receive-all-qos", 5, "subscribe QoS 2, receive QoS 0, 1 and 2; unsubscribe; disconnect",
         deliver=[0, 1, 2]),
    paho("paho-v5-keepalive", 5, "keepalive 1 s, idle ~2.2 s (PINGREQ), disconnect",
         varies="number of PINGREQs depends on timing"),
]

# ---------------------------------------------------------------------------
# Fake server
# ---------------------------------------------------------------------------


class Connection(threading.Thread):
    """Serves one client connection and records every byte it sends."""

    def __init__(self, sock: socket.socket, scenario: Scenario):
        super().__init__(daemon=True)
        self.sock = sock
        self.sc = scenario
        self.received = bytearray()
        self.level = 4
        self.next_id = 1
        self.delivered = False
        self.disconnected = False
        self.errors: list[str] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def run(self) -> None:
        buf = bytearray()
        self.sock.settimeout(CLIENT_TIMEOUT + 5)
        try:
            while True:
                try:
                    data = self.sock.recv(65536)
                except (TimeoutError, socket.timeout):
                    if not self.disconnected:
                        self.errors.append("timed out waiting for client data")
                    break
                except ConnectionError:
                    break
                if not data:
                    break
                self.received += data
                buf += data
                while (pkt := take_packet(buf)) is not None:
                    if not self.handle(*pkt):
                        # DISCONNECT: record anything else until the client closes (1 s at most).
                        self.disconnected = True
                        self.sock.settimeout(1.0)
        except Malformed as e:
            self.errors.append(f"malformed input: {e}")
        except OSError as e:
            self.errors.append(f"socket error: {e}")
        finally:
            self.sock.close()

    def props(self) -> bytes:
        return b"\x00" if self.level == 5 else b""

    def deliver(self) -> None:
        if self.delivered:
            return
        self.delivered = True
        topic = self.sc.deliver_topic.encode()
        for qos in self.sc.deliver:
            body = len(topic).to_bytes(2, "big") + topic
            if qos:
                body += self.next_id.to_bytes(2, "big")
                self.next_id += 1
            body += self.props() + f"golden qos{qos}".encode()
            self.send(packet(0x30 | (qos << 1), body))

    def handle(self, first: int, body: bytes) -> bool:
        """Answer one packet; False once the client has sent DISCONNECT."""
        ptype = first >> 4
        if ptype == 1:  # CONNECT
            self.level = connect_level(body)
            self.send(b"\x20\x03\x00\x00\x00" if self.level == 5 else b"\x20\x02\x00\x00")
        elif ptype == 3:  # PUBLISH
            qos = (first >> 1) & 3
            if qos:
                tlen, pos = read_u16(body, 0)
                pid = body[pos + tlen:pos + tlen + 2]
                self.send((b"\x40\x02" if qos == 1 else b"\x50\x02") + pid)
        elif ptype == 4:  # PUBACK for our QoS 1 delivery
            pass
        elif ptype == 5:  # PUBREC for our QoS 2 delivery
            self.send(b"\x62\x02" + body[:2])
        elif ptype == 6:  # PUBREL
            self.send(b"\x70\x02" + body[:2])
        elif ptype == 7:  # PUBCOMP for our QoS 2 delivery
            pass
        elif ptype == 8:  # SUBSCRIBE
            pid, pos = read_u16(body, 0)
            if self.level == 5:
                pos = skip_properties(body, pos)
            granted = bytearray()
            while pos < len(body):
                flen, pos = read_u16(body, pos)
                pos += flen
                if pos >= len(body):
                    raise Malformed("SUBSCRIBE filter without options byte")
                granted.append(body[pos] & 0x03)
                pos += 1
            self.send(packet(0x90, body[:2] + self.props() + bytes(granted)))
            if self.sc.deliver_after == "suback":
                self.deliver()
        elif ptype == 10:  # UNSUBSCRIBE
            pid, pos = read_u16(body, 0)
            if self.level == 5:
                pos = skip_properties(body, pos)
            count = 0
            while pos < len(body):
                flen, pos = read_u16(body, pos)
                pos += flen
                count += 1
            reasons = bytes(count) if self.level == 5 else b""
            self.send(packet(0xB0, body[:2] + self.props() + reasons))
            if self.sc.deliver_after == "unsuback":
                self.deliver()
        elif ptype == 12:  # PINGREQ
            self.send(b"\xd0\x00")
        elif ptype == 14:  # DISCONNECT
            return False
        else:
            self.errors.append(f"unexpected packet type {ptype}")
        return True


@dataclasses.dataclass
class Capture:
    scenario: Scenario
    streams: list[bytes]
    returncode: int | None
    stderr: str
    errors: list[str]
    seconds: float


def run_scenario(sc: Scenario) -> Capture:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(8)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    conns: list[Connection] = []
    stop = threading.Event()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            conn = Connection(sock, sc)
            conns.append(conn)
            conn.start()

    acceptor = threading.Thread(target=accept_loop, daemon=True)
    acceptor.start()
    errors: list[str] = []
    start = time.monotonic()
    returncode: int | None = None
    stderr = ""
    try:
        proc = subprocess.run(sc.argv(port), input=sc.stdin if sc.stdin is not None else b"",
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=CLIENT_TIMEOUT, check=False)
        returncode = proc.returncode
        stderr = proc.stderr.decode(errors="replace").strip()
    except subprocess.TimeoutExpired as e:
        errors.append(f"client timed out after {CLIENT_TIMEOUT:.0f} s")
        stderr = (e.stderr or b"").decode(errors="replace").strip()
    except FileNotFoundError as e:
        errors.append(f"client not found: {e}")
    elapsed = time.monotonic() - start
    stop.set()
    acceptor.join(2)
    listener.close()
    for conn in conns:
        conn.join(3)
        if conn.is_alive():
            errors.append("connection still open after the client exited")
            conn.sock.close()
            conn.join(1)
        errors.extend(conn.errors)
    if returncode not in (0, None):
        errors.append(f"client exited with status {returncode}")
    streams = [bytes(c.received) for c in conns]
    if not streams:
        errors.append("client never connected")
    for i, data in enumerate(streams):
        try:
            level, names = describe_stream(data)
        except Malformed as e:
            errors.append(f"connection {i + 1}: {e}")
            continue
        if not names or not names[0].startswith("CONNECT"):
            errors.append(f"connection {i + 1}: does not start with CONNECT")
        if level != sc.level:
            errors.append(f"connection {i + 1}: protocol level {level}, expected {sc.level}")
        if not names or not names[-1].startswith("DISCONNECT"):
            errors.append(f"connection {i + 1}: does not end with DISCONNECT")
        if sc.deliver and not any(n.startswith(("PUBACK", "PUBREC", "PUBCOMP")) for n in names) \
                and any(q > 0 for q in sc.deliver):
            errors.append(f"connection {i + 1}: no ack for the delivered PUBLISH")
    return Capture(sc, streams, returncode, stderr, errors, elapsed)


# ---------------------------------------------------------------------------
# paho-mqtt client scenarios (run in a child process: --paho-client NAME)
# ---------------------------------------------------------------------------


def paho_main(name: str, port: int) -> int:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode
    from paho.mqtt.subscribeoptions import SubscribeOptions

    wait_s = CLIENT_TIMEOUT - 2
    level = next(s.level for s in SCENARIOS if s.name == name)
    protocol = {3: mqtt.MQTTv31, 4: mqtt.MQTTv311, 5: mqtt.MQTTv5}[level]

    events = {k: threading.Event() for k in ("connect", "subscribe", "unsubscribe", "disconnect")}
    messages: list = []
    got_message = threading.Condition()

    def on_connect(client, userdata, flags, reason_code, properties):
        events["connect"].set()

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        events["subscribe"].set()

    def on_unsubscribe(client, userdata, mid, reason_codes, properties):
        events["unsubscribe"].set()

    def on_message(client, userdata, msg):
        with got_message:
            messages.append(msg)
            got_message.notify_all()

    def on_disconnect(client, userdata, flags, reason_code, properties):
        events["disconnect"].set()

    def props(ptype, **values) -> Properties:
        p = Properties(ptype)
        for key, value in values.items():
            setattr(p, key, value)
        return p

    def wait(event: str) -> None:
        if not events[event].wait(wait_s):
            raise SystemExit(f"paho: timed out waiting for {event}")
        events[event].clear()

    def wait_messages(n: int) -> None:
        with got_message:
            if not got_message.wait_for(lambda: len(messages) >= n, wait_s):
                raise SystemExit(f"paho: got {len(messages)} of {n} messages")
        # paho calls on_message before it sends the PUBACK/PUBCOMP: let it go out
        # before the next packet so the byte order is stable.
        time.sleep(0.3)

    def publish(client, topic, payload, qos, retain=False, properties=None) -> None:
        info = client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise SystemExit(f"paho: publish failed: {info.rc}")
        if qos:
            info.wait_for_publish(wait_s)
            if not info.is_published():
                raise SystemExit("paho: publish not acknowledged")
        else:
            time.sleep(0.05)

    def make(clean_session=None, **kw):
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id(name, level),
                             protocol=protocol, clean_session=clean_session, **kw)
        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_unsubscribe = on_unsubscribe
        client.on_message = on_message
        client.on_disconnect = on_disconnect
        return client

    def finish(client, reasoncode=None, properties=None) -> None:
        client.disconnect(reasoncode=reasoncode, properties=properties)
        wait("disconnect")
        client.loop_stop()

    if name == "paho-v311-clean-session":
        c = make(clean_session=True)
        c.connect(HOST, port, keepalive=60)
        c.loop_start()
        wait("connect")
        for q in (0, 1, 2):
            publish(c, f"golden/paho/q{q}", f"paho qos{q}".encode(), q)
        c.subscribe([("golden/paho/a", 0), ("golden/+/b", 1), ("golden/#", 2)])
        wait("subscribe")
        wait_messages(1)
        c.unsubscribe(["golden/paho/a", "golden/+/b"])
        wait("unsubscribe")
        finish(c)
    elif name == "paho-v311-persistent-will-auth":
        c = make(clean_session=False)
        c.will_set("golden/will", b"paho gone", qos=2, retain=True)
        c.username_pw_set("paho-user", "paho-pass")
        c.connect(HOST, port, keepalive=15)
        c.loop_start()
        wait("connect")
        publish(c, "golden/retained", b"retained by paho", 1, retain=True)
        finish(c)
    elif name == "paho-v311-receive-qos2":
        c = make(clean_session=True)
        c.connect(HOST, port)
        c.loop_start()
        wait("connect")
        c.subscribe("golden/deliver", qos=2)
        wait("subscribe")
        wait_messages(1)
        finish(c)
    elif name in ("paho-v311-keepalive", "paho-v5-keepalive"):
        c = make(clean_session=True) if level != 5 else make()
        c.connect(HOST, port, keepalive=1)
        c.loop_start()
        wait("connect")
        time.sleep(2.2)
        finish(c)
    elif name == "paho-v31-basic":
        c = make(clean_session=True)
        c.connect(HOST, port)
        c.loop_start()
        wait("connect")
        publish(c, "golden/v31", b"paho 3.1", 1)
        c.subscribe("golden/deliver", qos=1)
        wait("subscribe")
        wait_messages(1)
        finish(c)
    elif name == "paho-v5-clean-start-publish-props":
        c = make()
        c.connect(HOST, port, clean_start=True,
                  properties=props(PacketTypes.CONNECT, SessionExpiryInterval=0, ReceiveMaximum=100,
                                   MaximumPacketSize=1 << 20, TopicAliasMaximum=8,
                                   RequestResponseInformation=1, RequestProblemInformation=1,
                                   UserProperty=[("client", "paho"), ("run", "golden")]))
        c.loop_start()
        wait("connect")
        for q in (0, 1, 2):
            p = props(PacketTypes.PUBLISH, UserProperty=[("k", "v"), ("k", "v2"), ("qos", str(q))],
                      MessageExpiryInterval=30 + q, PayloadFormatIndicator=1, ContentType="text/plain",
                      ResponseTopic="golden/reply", CorrelationData=bytes([0, 1, 2, q]))
            publish(c, f"golden/paho5/q{q}", f"paho v5 qos{q} ✓".encode(), q, properties=p)
        finish(c)
    elif name == "paho-v5-topic-alias":
        c = make()
        c.connect(HOST, port, clean_start=True)
        c.loop_start()
        wait("connect")
        publish(c, "golden/alias/topic", b"first", 1, properties=props(PacketTypes.PUBLISH, TopicAlias=1))
        publish(c, "", b"second", 1, properties=props(PacketTypes.PUBLISH, TopicAlias=1))
        publish(c, "", b"third", 0, properties=props(PacketTypes.PUBLISH, TopicAlias=1))
        finish(c)
    elif name == "paho-v5-subscribe-options":
        c = make()
        c.connect(HOST, port, clean_start=False,
                  properties=props(PacketTypes.CONNECT, SessionExpiryInterval=3600))
        c.loop_start()
        wait("connect")
        c.subscribe([
            ("golden/deliver", SubscribeOptions(qos=2, noLocal=True, retainAsPublished=True,
                                                retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE)),
            ("golden/+/x", SubscribeOptions(qos=1, noLocal=False, retainAsPublished=True,
                                            retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)),
            ("golden/#", SubscribeOptions(qos=0, noLocal=True, retainAsPublished=False,
                                          retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)),
        ], properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=7,
                            UserProperty=[("sub", "options")]))
        wait("subscribe")
        wait_messages(1)
        c.unsubscribe(["golden/+/x", "golden/#"],
                      properties=props(PacketTypes.UNSUBSCRIBE, UserProperty=[("unsub", "2")]))
        wait("unsubscribe")
        finish(c, ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message"),
               props(PacketTypes.DISCONNECT, SessionExpiryInterval=0, ReasonString="golden done",
                     UserProperty=[("bye", "now")]))
    elif name == "paho-v5-will-props":
        c = make()
        c.will_set("golden/will", b"paho v5 gone", qos=1, retain=False,
                   properties=props(PacketTypes.WILLMESSAGE, WillDelayInterval=5, MessageExpiryInterval=60,
                                    PayloadFormatIndicator=1, ContentType="text/plain",
                                    ResponseTopic="golden/will/reply", CorrelationData=b"\xff\x00will",
                                    UserProperty=[("will", "yes")]))
        c.username_pw_set("paho-user", b"\x00binary\xffpassword")
        c.connect(HOST, port, keepalive=45, clean_start=True)
        c.loop_start()
        wait("connect")
        publish(c, "golden/paho5/will", b"with will", 2)
        finish(c, ReasonCode(PacketTypes.DISCONNECT, "Normal disconnection"),
               props(PacketTypes.DISCONNECT, ReasonString="normal"))
    elif name == "paho-v5-receive-all-qos":
        c = make()
        c.connect(HOST, port, clean_start=True)
        c.loop_start()
        wait("connect")
        c.subscribe("golden/deliver", options=SubscribeOptions(qos=2))
        wait("subscribe")
        wait_messages(3)
        c.unsubscribe("golden/deliver")
        wait("unsubscribe")
        finish(c)
    else:
        print(f"unknown paho scenario {name}", file=sys.stderr)
        return 2
    return 0


# ---------------------------------------------------------------------------
# Output: .bin files, index.tsv, README.md
# ---------------------------------------------------------------------------


def file_names(sc: Scenario, count: int) -> list[str]:
    return [f"{sc.name}.bin" if i == 0 else f"{sc.name}.conn{i + 1}.bin" for i in range(count)]


def client_versions() -> dict[str, str]:
    versions = {}
    for tool in ("mosquitto_pub", "mosquitto_sub"):
        try:
            out = subprocess.run([tool, "--help"], capture_output=True, text=True, timeout=5).stdout
            line = next((l for l in out.splitlines() if " version " in l), "")
            versions[tool] = line.split(" version ")[1].split()[0] if line else "?"
        except (OSError, subprocess.SubprocessError):
            versions[tool] = "?"
    try:
        import paho.mqtt
        versions["paho"] = paho.mqtt.__version__
    except ImportError:
        versions["paho"] = "?"
    return versions


def client_label(sc: Scenario, versions: dict[str, str]) -> str:
    if sc.client == "paho":
        return f"paho-mqtt {versions['paho']} (Python)"
    return f"{sc.client} {versions[sc.client]}"


def clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def write_index_and_readme(out_dir: Path, versions: dict[str, str]) -> int:
    rows = []
    for sc in SCENARIOS:
        i = 0
        while (path := out_dir / (file_names(sc, i + 1)[i])).exists():
            data = path.read_bytes()
            try:
                _, names = describe_stream(data)
                seq = compress_names(names)
            except Malformed as e:
                seq = f"unparseable: {e}"
            rows.append((sc, path.name, len(data), seq, i))
            i += 1
    with open(out_dir / "index.tsv", "w", encoding="utf-8", newline="\n") as f:
        f.write("file\tprotocol_level\tclient\tdescription\n")
        for sc, fname, _, seq, i in rows:
            desc = sc.description + (f" (connection {i + 1})" if i else "") + f" [packets: {seq}]"
            f.write(f"{fname}\t{sc.level}\t{clean(client_label(sc, versions))}\t{clean(desc)}\n")

    lines = [
        "# Golden client bytes",
        "",
        "Every `.bin` file here holds the exact bytes one real MQTT client sent to a server over one",
        "TCP connection, from its CONNECT to its DISCONNECT: a concatenation of complete MQTT control",
        "packets as the client encoded them. The codec tests decode these streams packet by packet",
        "(and can re-encode and compare).",
        "",
        f"Generated by `{SCRIPT_REL}`, which starts a tiny fake MQTT server on 127.0.0.1 (ephemeral",
        "port) for each scenario. The server parses fixed header and remaining length and answers",
        "just enough to keep the client going: CONNACK (`20 02 00 00`, v5 `20 03 00 00 00`), SUBACK",
        "granting the requested QoS, UNSUBACK, PUBACK for QoS 1, PUBREC for QoS 2, PUBCOMP for",
        "PUBREL, PINGRESP, and for subscribers one PUBLISH per listed QoS (topic `golden/deliver`,",
        "payload `golden qosN`; PUBREL for the client's PUBREC) so that the client sends its acks.",
        "DISCONNECT ends the session. Only the client-to-server direction is recorded.",
        "",
        "## Regenerate",
        "",
        "```sh",
        "scripts/install-deps.sh                 # mosquitto-clients (apt) and paho-mqtt 2.x (pip)",
        f"python3 {SCRIPT_REL}          # rewrites all .bin files, index.tsv and this README",
        f"python3 {SCRIPT_REL} --check  # captures to a temp dir and compares with these files",
        f"python3 {SCRIPT_REL} --only NAME   # just one scenario (repeatable)",
        "```",
        "",
        "Each client runs with a 10 s timeout. The script exits non-zero if a client fails, times",
        "out, or its stream does not parse as CONNECT ... DISCONNECT at the expected protocol level.",
        "",
        "## Determinism",
        "",
        "Client ids are fixed (`-i golden-<name>` / `client_id=golden-<name>`, at most 23 characters",
        "for MQTT 3.1), payloads are fixed (the stdin payloads are byte patterns generated by the",
        "script: `LARGE_PAYLOAD`, `HUGE_PAYLOAD`) and packet identifiers start at 1, so the",
        "captures are byte-for-byte reproducible with the same",
        "client versions (`--check` verifies this), except where noted in the table (the number of",
        "PINGREQs in the keepalive scenarios depends on timing). Other client versions may encode",
        "differently (property order, default keepalive, generated ids, randomized client ids when",
        "none is given), so regenerate all files together and review the diff.",
        "",
        "## index.tsv",
        "",
        "Tab-separated with a header line: `file`, `protocol_level` (3 = MQTT 3.1 `MQIsdp`,",
        "4 = 3.1.1, 5 = 5.0), `client` (name and version), `description` (ends with the packet",
        "sequence found in the file, e.g. `[packets: CONNECT(v5) PUBLISH(q1) DISCONNECT(rc=0x00)]`;",
        "`3xPUBLISH(q0)` means three in a row; `DISCONNECT` without `rc` has no reason code byte).",
        "",
        "## Files",
        "",
        f"Clients: mosquitto_pub/mosquitto_sub {versions['mosquitto_pub']} (Debian 12 package",
        f"`mosquitto-clients`), paho-mqtt {versions['paho']} (PyPI, `CallbackAPIVersion.VERSION2`).",
        "`PORT` is the fake server's ephemeral port.",
        "",
        "| file | level | client | scenario | command line | bytes | packets |",
        "|---|---|---|---|---|---|---|",
    ]

    def md(text: str) -> str:
        return clean(text).replace("|", "\\|")

    for sc, fname, size, seq, i in rows:
        desc = sc.description + (f" (connection {i + 1})" if i else "")
        if sc.varies:
            desc += f" — varies: {sc.varies}"
        lines.append(f"| `{fname}` | {sc.level} | {md(client_label(sc, versions))} | {md(desc)} | "
                     f"`{md(sc.display_command())}` | {size} | {md(seq)} |")
    lines += [
        "",
        "The paho scenarios are functions in the script (`paho_main`); the table's description says",
        "what each does. Subscriber scenarios receive the server's PUBLISH(es) after their SUBACK",
        "(after the UNSUBACK for the `-U` mosquitto_sub scenarios).",
        "",
    ]
    (out_dir / "README.md").write_text("\n".join(lines), encoding="utf-8")
    return len(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", metavar="NAME", help="capture only this scenario")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--check", action="store_true",
                    help="capture into a temporary directory and compare with the stored files")
    ap.add_argument("--out", type=Path, default=GOLDEN_DIR, help=f"output directory (default {GOLDEN_DIR})")
    ap.add_argument("--paho-client", metavar="NAME", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.paho_client:
        return paho_main(args.paho_client, args.port)
    if args.list:
        for sc in SCENARIOS:
            print(f"{sc.name}\t{sc.level}\t{sc.client}\t{sc.description}")
        return 0

    selected = SCENARIOS
    if args.only:
        known = {s.name for s in SCENARIOS}
        unknown = [n for n in args.only if n not in known]
        if unknown:
            ap.error(f"unknown scenario(s): {', '.join(unknown)}")
        selected = [s for s in SCENARIOS if s.name in args.only]
    missing = [t for t in ("mosquitto_pub", "mosquitto_sub") if shutil.which(t) is None]
    if missing and any(s.client in missing for s in selected):
        print(f"missing {', '.join(missing)}: run scripts/install-deps.sh", file=sys.stderr)
        return 2
    try:
        import paho.mqtt  # noqa: F401
    except ImportError:
        if any(s.client == "paho" for s in selected):
            print("missing paho-mqtt: pip install 'paho-mqtt==2.*' (or scripts/install-deps.sh)",
                  file=sys.stderr)
            return 2

    out_dir: Path = args.out
    tmp = None
    if args.check:
        tmp = tempfile.TemporaryDirectory(prefix="golden-check-")
        out_dir = Path(tmp.name)
    out_dir.mkdir(parents=True, exist_ok=True)

    failures = 0
    written: list[Path] = []
    for sc in selected:
        cap = run_scenario(sc)
        status = "ok" if not cap.errors else "FAILED"
        sizes = "+".join(str(len(s)) for s in cap.streams) or "0"
        print(f"{status:6} {sc.name:45} {sizes:>7} bytes  {cap.seconds:5.2f} s", flush=True)
        if cap.errors:
            failures += 1
            for err in cap.errors:
                print(f"         {err}")
            if cap.stderr:
                print("         client stderr: " + cap.stderr.replace("\n", "\n                        "))
            continue
        # Remove stale extra-connection files of this scenario, then write.
        for old in out_dir.glob(f"{sc.name}.conn*.bin"):
            old.unlink()
        for fname, data in zip(file_names(sc, len(cap.streams)), cap.streams):
            path = out_dir / fname
            path.write_bytes(data)
            written.append(path)

    if args.check:
        different = 0
        for path in written:
            stored = GOLDEN_DIR / path.name
            sc = next(s for s in SCENARIOS if path.name.startswith(s.name + "."))
            if not stored.exists():
                print(f"new      {path.name}")
                different += 1
            elif stored.read_bytes() != path.read_bytes():
                note = f" (expected: {sc.varies})" if sc.varies else ""
                print(f"differs  {path.name}{note}")
                if not sc.varies:
                    different += 1
            else:
                print(f"same     {path.name}")
        tmp.cleanup()
        print(f"{len(written)} captured, {different} unexpectedly different, {failures} failed")
        return 1 if different or failures else 0

    count = write_index_and_readme(out_dir, client_versions())
    print(f"{len(written)} file(s) written, {count} listed in {out_dir / 'index.tsv'}; {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
