#!/usr/bin/env bash
# Install what brokkr's test suite needs on a fresh Debian 12 machine (idempotent).
#
#   apt:   mosquitto mosquitto-clients   (reference broker, mosquitto_passwd, mosquitto_pub/sub)
#          haproxy chromium openssl      (transport tests: PROXY peer, browser, test certificates)
#   PyPI:  paho-mqtt 2.x                 (scripts/capture-golden.py, transport tests)
#   npm:   tests/browser/ (mqtt, playwright-core; npm ci from the committed lock file)
#   cargo: cargo-fuzz                    (libFuzzer targets under fuzz/)
#
# Each step is skipped when its result is already there. AFL++ (cargo-afl and
# its LLVM plugins) is separate: scripts/fuzz-helper.sh --install.
set -euo pipefail

readonly APT_PACKAGES=(mosquitto mosquitto-clients haproxy chromium openssl)
readonly PAHO_SPEC='paho-mqtt==2.*'

usage() {
    cat <<EOF
Usage: $(basename "$0") [-h]

Idempotently installs the test dependencies of brokkr:
  1. apt-get update && apt-get install -y ${APT_PACKAGES[*]}
     (skipped when all of them are installed)
  2. python3 -m pip install '${PAHO_SPEC}'
     (skipped when paho-mqtt 2.x is importable)
  3. npm ci in tests/browser (MQTT.js and playwright-core for the browser tests)
     (skipped when tests/browser/node_modules matches package-lock.json)
  4. cargo install cargo-fuzz --locked
     (skipped when 'cargo fuzz --version' works)

Runs apt-get through sudo when not root. For AFL++ see scripts/fuzz-helper.sh --install.
Options:
  -h, --help   Show this help.
EOF
}

log() { printf '[install-deps] %s\n' "$*"; }

while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        *) usage >&2; printf '[install-deps] error: unknown argument: %s\n' "$1" >&2; exit 2 ;;
    esac
done

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    SUDO=(sudo)
fi

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# 1. apt packages -----------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
    log "apt: ${APT_PACKAGES[*]} already installed, skipping apt-get"
else
    log "apt: installing ${missing[*]}"
    # Another apt/dpkg run (e.g. unattended upgrades) may hold the lock: wait for it.
    "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 update
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y "${missing[@]}"
fi
# The Debian package starts a mosquitto service on port 1883 where systemd runs;
# tests start their own brokers on ephemeral ports and do not depend on it.

# 2. paho-mqtt ----------------------------------------------------------------
paho_ok() {
    python3 - <<'EOF' 2>/dev/null
import sys
import paho.mqtt
sys.exit(0 if paho.mqtt.__version__.split(".")[0] == "2" else 1)
EOF
}
if paho_ok; then
    log "pip: paho-mqtt $(python3 -c 'import paho.mqtt; print(paho.mqtt.__version__)') already importable, skipping"
else
    log "pip: installing ${PAHO_SPEC}"
    pip_log="$(mktemp)"
    trap 'rm -f "$pip_log"' EXIT
    if ! python3 -m pip install "$PAHO_SPEC" 2>&1 | tee "$pip_log"; then
        if grep -q externally-managed-environment "$pip_log"; then
            # Debian's own python3 refuses global pip installs (PEP 668).
            log "pip: externally managed Python, retrying with --break-system-packages"
            python3 -m pip install --break-system-packages "$PAHO_SPEC"
        else
            exit 1
        fi
    fi
    paho_ok || { log "error: paho-mqtt 2.x still not importable"; exit 1; }
fi

# 3. npm packages for the browser tests ----------------------------------------
# Node.js 20 and its own npm come with the machine; Debian's npm package would replace
# that npm, so it is not installed here. npm ci installs exactly the committed lock file;
# its copy of the lock in node_modules/.package-lock.json says whether it already ran.
browser_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
if ! command -v npm >/dev/null 2>&1; then
    log "error: npm not found (Node.js 20 with its npm is expected on the machine)"
    exit 1
fi
if [[ -f "$browser_dir/node_modules/.package-lock.json" ]] \
    && [[ -d "$browser_dir/node_modules/mqtt" && -d "$browser_dir/node_modules/playwright-core" ]] \
    && [[ "$browser_dir/node_modules/.package-lock.json" -nt "$browser_dir/package-lock.json" ]]; then
    log "npm: tests/browser/node_modules is current, skipping"
else
    log "npm: npm ci in tests/browser"
    # playwright-core never downloads a browser; the tests use Debian's /usr/bin/chromium.
    (cd "$browser_dir" && npm ci --no-audit --no-fund)
fi

# 4. cargo-fuzz ---------------------------------------------------------------
if cargo fuzz --version >/dev/null 2>&1; then
    log "cargo: $(cargo fuzz --version) already installed, skipping"
else
    log "cargo: installing cargo-fuzz (~40 s)"
    cargo install cargo-fuzz --locked
    cargo fuzz --version
fi

log "done"
