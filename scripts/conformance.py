#!/usr/bin/env python3
"""Build docs/conformance.md: every normative statement of MQTT 5.0 and 3.1.1, with the tests
named after it.

Reads the statement index (../shared/reference/mqtt-normative.md by default) and every Rust test
in crates/: a test named `mqtt_3_1_2_3_...` checks MQTT 5.0 statement MQTT-3.1.2-3, one named
`v311_mqtt_3_1_2_22_...` the MQTT 3.1.1 statement, and `mqtt_4_7_1_1_and_2_...` both 4.7.1-1 and
4.7.1-2. A test marked `#[ignore]` does not count: it documents a known failure (issue 3) and the
table names it as such. Statements that bind only clients need no broker test and say so.
Statements that cannot apply to brokkr as built carry a reason from REASONS below, shown as
"n/a: reason"; everything else without a test is listed as not covered yet: the table is honest,
not aspirational.

The FlashMQ section maps the protocol tests of FlashMQ's suite (themes C, D and G-L of
shared/reference/flashmq.md section 4) to ours: a test preceded by a comment
`// FlashMQ: testName, otherName` is their counterpart; FLASHMQ_REASONS says why a FlashMQ test
has none.

Usage: python3 scripts/conformance.py [INDEX] > docs/conformance.md
"""
import pathlib
import re
import sys

# Statements that cannot apply to brokkr as built, with the reason. Keep each reason specific: what
# brokkr does instead, or what is missing and which issue brings it.
NO_AUTH = ("brokkr has no enhanced authentication yet (no auth plugins): a CONNECT with an "
           "Authentication Method is refused with CONNACK 0x8C, so no AUTH exchange ever starts "
           "(tested under MQTT-4.12.0-1)")
REASONS = {
    "5.0": {
        "MQTT-3.2.2-11": "brokkr supports QoS 2 and sends no Maximum QoS, so no PUBLISH QoS can "
                         "exceed it (QoS 3 is malformed, tested under MQTT-3.3.1-4)",
        "MQTT-3.2.2-12": "brokkr supports QoS 2, so every Will QoS is supported (Will QoS 3 is "
                         "malformed, tested under MQTT-3.1.2-12)",
        "MQTT-3.2.2-13": "brokkr always supports retained messages (CONNACK says Retain Available "
                         "1, tested under MQTT-3.1.2-15)",
        "MQTT-3.2.2-14": "brokkr always supports retained messages (Retain Available 1), so RETAIN "
                         "= 1 is never a violation",
        "MQTT-3.3.4-4": "brokkr sends one copy per matching subscription, each with its own "
                        "identifier (MQTT-3.3.4-5), never one merged copy",
        "MQTT-3.15.2-2": "brokkr never sends AUTH: " + NO_AUTH,
        "MQTT-3.15.2-3": "brokkr never sends AUTH: " + NO_AUTH,
        "MQTT-4.2.0-1": "transport is outside the sans-IO core: brokkr-server listens on TCP "
                        "(WebSocket framing exists in brokkr-codec, not yet served); "
                        "crates/brokkr-server/tests/interop.rs runs real clients over TCP",
        "MQTT-4.3.3-9": "brokkr never answers a QoS 2 PUBLISH with a PUBREC >= 0x80: it accepts "
                        "the message or disconnects (0x93, 0x99...), so no identifier is left in "
                        "that state",
        "MQTT-4.12.0-2": NO_AUTH,
        "MQTT-4.12.0-3": NO_AUTH,
        "MQTT-4.12.0-5": NO_AUTH,
        "MQTT-4.12.1-1": NO_AUTH + "; AUTH from a connected client is a Protocol Error "
                         "(tested under MQTT-4.12.0-7)",
        "MQTT-4.12.1-2": NO_AUTH + "; no re-authentication can start or fail",
    },
    "3.1.1": {
        "MQTT-3.8.3-2": "brokkr supports wildcards in every filter (Limits::wildcard_depth_min is "
                        "not enforced), so it never needs to reject one",
        "MQTT-7.0.0-1": "brokkr has no bridge yet (FlashMQ's bridge {} blocks are a later "
                        "issue), so it makes no outbound MQTT connections",
        "MQTT-7.0.0-2": "a property of the whole server, not one rule: brokkr uses no extension; "
                        "crates/brokkr-server/tests/interop.rs runs stock mosquitto_pub/sub and "
                        "paho-mqtt against it",
        "MQTT-7.1.1-1": "transport is outside the sans-IO core: brokkr-server listens on TCP; "
                        "crates/brokkr-server/tests/interop.rs runs real clients over it",
    },
}

# FlashMQ tests (themes C, D, G-L) with no brokkr counterpart, and why.
SIMD = ("tests FlashMQ's SIMD code path against its generic one; brokkr has one path "
        "(std::str::from_utf8, str::split), so there is nothing to compare")
FLASHMQ_REASONS = {
    "test_sse_split": SIMD,
    "test_validUtf8Sse": SIMD,
    "test_utf8_compare_implementation": SIMD,
    "test_retained_mode_drop": "brokkr has no retained_messages_mode directive yet (config issue)",
    "test_retained_mode_downgrade": "brokkr has no retained_messages_mode directive yet (config "
                                    "issue)",
    "test_retained_mode_no_retain": "brokkr has no retained_messages_mode directive yet (config "
                                    "issue)",
    "test_retained_tree_purging": "tests FlashMQ's periodic purge of empty retained-tree nodes; "
                                  "brokkr's store frees nodes on removal (retained/store.rs)",
    "testRetainedAclReadCheck": "brokkr has no ACLs or plugins yet (operations issue)",
    "testSharedSubscribersUnit": "unit test of FlashMQ's round-robin member list; brokkr picks a "
                                 "member per message in route.rs (the delivery itself is tested "
                                 "by testSharedSubscribers' counterpart)",
}

ROOT = pathlib.Path(__file__).resolve().parent.parent
# shared/ sits next to the checkout, or next to the worktrees' folder for a git worktree.
SHARED = next((d / "shared/reference" for d in (ROOT.parent, ROOT.parent.parent)
               if (d / "shared/reference").is_dir()), ROOT.parent / "shared/reference")
index_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED / "mqtt-normative.md"

statements = {"5.0": [], "3.1.1": []}
version = None
for line in index_path.read_text().splitlines():
    if line.startswith("# MQTT 5.0"):
        version = "5.0"
    elif line.startswith("# MQTT 3.1.1"):
        version = "3.1.1"
    m = re.match(r"\| (MQTT-[\d.]+-\d+) \| ([^|]+) \| (.+) \|$", line)
    if m and version:
        statements[version].append((m.group(1), m.group(2).strip(), m.group(3).strip()))


def test_functions(text):
    """Yield (name, ignored, flashmq names) for every fn in `text`, reading the attribute and
    comment lines right above it."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s*(?:pub\s+)?fn (\w+)\s*[(<]", line)
        if not m:
            continue
        ignored, flashmq, j = False, [], i - 1
        while j >= 0 and re.match(r"\s*(#\[|//)", lines[j]):
            above = lines[j].strip()
            ignored |= above.startswith("#[ignore")
            fm = re.match(r"// FlashMQ: (.+)", above)
            if fm:
                flashmq += [n.strip() for n in fm.group(1).split(",") if n.strip()]
            j -= 1
        yield m.group(1), ignored, flashmq


tests = {"5.0": {}, "3.1.1": {}}
ignored_tests = {"5.0": {}, "3.1.1": {}}
flashmq_ours = {}
for path in sorted((ROOT / "crates").rglob("*.rs")):
    rel = path.relative_to(ROOT)
    for name, ignored, flashmq in test_functions(path.read_text()):
        for f in flashmq:
            flashmq_ours.setdefault(f, []).append(f"`{name}`" + (" (ignored)" if ignored else ""))
        m = re.fullmatch(r"(v311_)?mqtt_(\d+)_(\d+)_(\d+)_(\d+)((?:_and_\d+)*)\w*", name)
        if not m:
            continue
        v311, a, b, c, d, more = m.groups()
        ver = "3.1.1" if v311 else "5.0"
        ids = [d] + re.findall(r"_and_(\d+)", more)
        target = ignored_tests if ignored else tests
        for n in ids:
            target[ver].setdefault(f"MQTT-{a}.{b}.{c}-{n}", []).append(f"`{rel}` `{name}`")

out = ["# MQTT conformance", "",
       "Generated by `python3 scripts/conformance.py > docs/conformance.md` from the statement index",
       "(`shared/reference/mqtt-normative.md`, our paraphrase of the OASIS texts) and the test names.",
       "A statement is *tested* when a test is named after it (an `#[ignore]`d test does not count);",
       "*client* statements bind only clients and need no broker test; *n/a* statements cannot apply",
       "to brokkr as built, for the reason given (the reasons table is in the script).", ""]
for ver in ("5.0", "3.1.1"):
    rows = statements[ver]
    counts = {"tested": 0, "client": 0, "n/a": 0, "ignored": 0, "open": 0}
    table = []
    for sid, binds, text in rows:
        if sid in tests[ver]:
            counts["tested"] += 1
            status = "tested: " + "; ".join(sorted(set(tests[ver][sid])))
        elif binds == "Client":
            counts["client"] += 1
            status = "client-only"
        elif sid in REASONS[ver]:
            counts["n/a"] += 1
            status = "n/a: " + REASONS[ver][sid]
        elif sid in ignored_tests[ver]:
            counts["ignored"] += 1
            status = "fails, test ignored: " + "; ".join(sorted(set(ignored_tests[ver][sid])))
        else:
            counts["open"] += 1
            status = "not covered yet"
        table.append(f"| {sid} | {binds} | {text} | {status} |")
    unused = sorted(set(REASONS[ver]) & set(tests[ver]))
    if unused:
        sys.exit(f"MQTT {ver}: reasons given for tested statements: {unused}")
    out += [f"## MQTT {ver}: {len(rows)} statements, {counts['tested']} tested, "
            f"{counts['client']} client-only, {counts['n/a']} n/a, "
            f"{counts['ignored']} failing (ignored test), {counts['open']} not covered yet", "",
            "| id | binds | statement | status |", "|---|---|---|---|"] + table + [""]

flashmq_path = SHARED / "flashmq.md"
flashmq_tests = []
section = None
for line in flashmq_path.read_text().splitlines():
    h = re.match(r"### ([A-Z])\. (.+)", line)
    if h:
        section = h.group(1) if h.group(1) in "CDGHIJKL" else None
        continue
    m = re.match(r"\| ([^|]+) \| [^|]+ \|$", line)
    if section and m and m.group(1) != "Test" and not m.group(1).startswith("---"):
        cell = re.sub(r"(\w+)\{([^}]+)\}",
                      lambda b: ", ".join(b.group(1) + x.strip() for x in b.group(2).split(",")),
                      m.group(1))
        flashmq_tests += [(section, n.strip()) for n in cell.split(",") if n.strip()]
mapped = sum(1 for _, n in flashmq_tests if n in flashmq_ours)
explained = sum(1 for _, n in flashmq_tests if n not in flashmq_ours and n in FLASHMQ_REASONS)
out += ["## FlashMQ's protocol tests and ours", "",
        "FlashMQ's test suite (`halfgaar/FlashMQTests`, themes C, D and G-L of",
        "`shared/reference/flashmq.md` section 4), each with the brokkr test that checks the same",
        "behaviour (a `// FlashMQ: name` comment above it) or why there is none.",
        f"{len(flashmq_tests)} tests: {mapped} with a counterpart, {explained} explained, "
        f"{len(flashmq_tests) - mapped - explained} without a counterpart yet.", "",
        "| theme | FlashMQ test | brokkr |", "|---|---|---|"]
for section, name in flashmq_tests:
    if name in flashmq_ours:
        ours = ", ".join(sorted(set(flashmq_ours[name])))
    elif name in FLASHMQ_REASONS:
        ours = "none: " + FLASHMQ_REASONS[name]
    else:
        ours = "no counterpart yet"
    out.append(f"| {section} | {name} | {ours} |")
out.append("")
diff_src = (ROOT / "crates/brokkr-server/tests/differential.rs").read_text()
known = re.findall(r'\(\s*"([^"]+)",\s*"((?:[^"\\]|\\.)*)",?\s*\)', diff_src, re.S)
out += ["## Known differences from FlashMQ 1.26.2", "",
        "The differential test (`crates/brokkr-server/tests/differential.rs`) runs the same client",
        "scripts against brokkr and FlashMQ and fails on any difference not listed here.", ""]
for name, reason in known:
    text = re.sub(r"\\\s*", "", reason)
    out.append(f"- **{name}**: {text}")
if not known:
    out.append("- none")
out.append("")
print("\n".join(out))
