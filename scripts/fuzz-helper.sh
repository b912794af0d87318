#!/usr/bin/env bash
# AFL++ driver for brokkr (cargo-afl, CmpLog plugins, several instances on one output dir).
#
# See /work/shared/notes/toolchain.md and docs for background. In short:
#   scripts/fuzz-helper.sh --install            # once per machine (apt + cargo-afl + plugins)
#   scripts/fuzz-helper.sh --build              # instrumented brokkr -> target/afl/release/brokkr
#   scripts/fuzz-helper.sh --minutes 10         # 4 instances for 10 minutes, then a summary
#   scripts/fuzz-helper.sh -j 2                 # 2 instances in the background
set -euo pipefail

readonly LLVM_VERSION=22
readonly APT_PACKAGES=("llvm-${LLVM_VERSION}-dev" "clang-${LLVM_VERSION}" "lld-${LLVM_VERSION}")

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly AFL_TARGET_DIR="${REPO_ROOT}/target/afl"
readonly BINARY="${AFL_TARGET_DIR}/release/brokkr"
readonly INPUT_DIR="${REPO_ROOT}/fuzztests"
readonly OUTPUT_DIR="${REPO_ROOT}/fuzz-out"

usage() {
    cat <<EOF
Usage: $(basename "$0") [options]

AFL++ driver for brokkr. The fuzzed program is
  ${BINARY#"${REPO_ROOT}/"} --fuzz-file @@
built by cargo-afl (nightly, AFL++ LLVM plugins incl. CmpLog) in its own target
dir so it does not clobber normal builds.

Actions (the default is to fuzz):
  --install        Install what AFL++ fuzzing needs (idempotent): apt packages
                   ${APT_PACKAGES[*]}, cargo-afl (nightly) and the AFL++ LLVM
                   plugins (cargo afl config --build --force --plugins).
  --build          Build the instrumented binary (cargo +nightly afl build
                   --release -p brokkr, CARGO_TARGET_DIR=target/afl, release
                   profile with LTO off: fat LTO breaks the instrumentation;
                   FUZZ_LTO=thin to use thin LTO instead).
  --status         Print the summary of an existing fuzz-out/ and exit.

Fuzzing options:
  -j N             Total number of afl-fuzz instances (default 4): one primary
                   "-M main" (with CmpLog, -c0) and N-1 secondaries "-S secK".
  --minutes M      Run unattended for M minutes (afl-fuzz -V), then print a
                   summary per instance and in total; exit status 1 if any
                   crash was saved. Without it the instances run in the
                   background and the script tells you how to watch them.
  --resume         Continue an existing fuzz-out/ (AFL_AUTORESUME=1) instead of
                   refusing to overwrite it.
  --clean          Delete fuzz-out/ before starting.
  -h, --help       Show this help.

Inputs: ${INPUT_DIR#"${REPO_ROOT}/"}/   Output: ${OUTPUT_DIR#"${REPO_ROOT}/"}/   Memory limit: -m 200
Examples:
  $(basename "$0") --install && $(basename "$0") --build
  $(basename "$0") --build --minutes 1 -j 2
  $(basename "$0") -j 4 && cargo +nightly afl whatsup -s ${OUTPUT_DIR#"${REPO_ROOT}/"}
EOF
}

log() { printf '[fuzz-helper] %s\n' "$*" >&2; }
die() { printf '[fuzz-helper] error: %s\n' "$*" >&2; exit 2; }

# ---------------------------------------------------------------------------
# --install
# ---------------------------------------------------------------------------
apt_packages_missing() {
    local pkg missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    printf '%s\n' "${missing[@]}"
}

plugins_built() {
    # cargo-afl reports "(AFL++ version X with plugins)" once the plugins exist
    # for the current (nightly) rustc.
    cargo +nightly afl --version 2>/dev/null | grep -q 'with plugins'
}

do_install() {
    local missing
    missing="$(apt_packages_missing)"
    if [[ -n "$missing" ]]; then
        local -a want
        mapfile -t want <<<"$missing"
        log "apt: installing ${want[*]}"
        local sudo=()
        [[ $(id -u) -eq 0 ]] || sudo=(sudo)
        "${sudo[@]}" apt-get update
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "${want[@]}"
    else
        log "apt: ${APT_PACKAGES[*]} already installed"
    fi
    command -v "llvm-config-${LLVM_VERSION}" >/dev/null || die "llvm-config-${LLVM_VERSION} not found after install"

    if cargo +nightly afl --version >/dev/null 2>&1 || [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-afl" ]]; then
        log "cargo-afl already installed: $(cargo +nightly afl --version 2>/dev/null || echo '(runtime not built yet)')"
    else
        log "installing cargo-afl with nightly (builds AFL++, ~2 min)"
        cargo +nightly install cargo-afl --locked
    fi

    if plugins_built; then
        log "AFL++ runtime and LLVM plugins already built for $(rustc +nightly --version)"
    else
        log "building AFL++ runtime + LLVM plugins with llvm-config-${LLVM_VERSION} (~100 s)"
        LLVM_CONFIG="llvm-config-${LLVM_VERSION}" cargo +nightly afl config --build --force --plugins
        plugins_built || die "cargo afl still does not report plugins"
    fi
    log "ready: $(cargo +nightly afl --version)"
}

# ---------------------------------------------------------------------------
# --build
# ---------------------------------------------------------------------------
do_build() {
    plugins_built || die "AFL++ plugins missing; run $(basename "$0") --install first"
    log "building instrumented brokkr (CmpLog included via the plugins) into ${AFL_TARGET_DIR#"${REPO_ROOT}/"}"
    # cargo-afl >= 0.15 adds the cmplog-*-pass.so plugins to RUSTFLAGS whenever the
    # plugins are installed (AFLRS_NO_CMPLOG opts out), so one binary serves both
    # the normal instances and the primary's -c0 CmpLog run. AFLRS_REQUIRE_PLUGINS
    # makes the build fail instead of silently building without them.
    #
    # The workspace's release profile uses fat LTO, which leaves the AFL++ plugin
    # instrumentation dead (afl-showmap: 0 tuples, afl-fuzz: "No instrumentation
    # detected"), so override it. Thin LTO works too (FUZZ_LTO=thin).
    local lto="${FUZZ_LTO:-false}"
    case "$lto" in
        false | off | thin) ;;
        *) die "FUZZ_LTO=$lto: fat LTO breaks the AFL++ instrumentation; use false or thin" ;;
    esac
    (cd "$REPO_ROOT" && env -u AFLRS_NO_CMPLOG AFLRS_REQUIRE_PLUGINS=1 CARGO_TARGET_DIR="$AFL_TARGET_DIR" \
        CARGO_PROFILE_RELEASE_LTO="$lto" cargo +nightly afl build --release -p brokkr)
    [[ -x "$BINARY" ]] || die "build finished but $BINARY is missing"
    log "built $BINARY"
}

# ---------------------------------------------------------------------------
# fuzzing
# ---------------------------------------------------------------------------
afl_bin_dir() {
    # `cargo afl fuzz` always prepends -c0, which would make every instance a
    # CmpLog instance. We want CmpLog on the primary only, so call cargo-afl's
    # own afl-fuzz (AFL++ 4.40c; Debian's afl++ is too old) directly.
    local base="${XDG_DATA_HOME:-$HOME/.local/share}/afl.rs" vv dir
    vv="$(rustc +nightly -vV | sed -n 's/^release: //p')"
    for dir in "$base"/rustc-"$vv"-*/afl.rs-*/afl/bin; do
        if [[ -x "$dir/afl-fuzz" ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

setup_afl_env() {
    export AFL_SKIP_CPUFREQ=1
    if [[ "$(cat /proc/sys/kernel/core_pattern 2>/dev/null || true)" == '|'* ]]; then
        log "core_pattern pipes to a program: AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1"
        export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
    fi
    # AFL binds each instance to a free core; in containers (cpusets, other load)
    # that can fail. Probe whether binding to every core works.
    if [[ -z "${AFL_NO_AFFINITY:-}" ]]; then
        local ncpu cpu ok=1
        ncpu="$(nproc)"
        if command -v taskset >/dev/null; then
            for ((cpu = 0; cpu < ncpu; cpu++)); do
                taskset -c "$cpu" true 2>/dev/null || ok=0
            done
        fi
        if ((ok == 0 || INSTANCES > ncpu)); then
            log "CPU binding not possible for ${INSTANCES} instances on ${ncpu} cores: AFL_NO_AFFINITY=1"
            export AFL_NO_AFFINITY=1
        fi
    fi
}

instance_names() {
    local k
    printf 'main\n'
    for ((k = 1; k < INSTANCES; k++)); do printf 'sec%d\n' "$k"; done
}

stat_of() { # stat_of FILE KEY
    sed -n "s/^$2 *: *//p" "$1" | head -n1
}

summary() {
    local dir="$OUTPUT_DIR" f name execs eps corpus crashes hangs
    local t_execs=0 t_eps=0 t_corpus=0 t_crashes=0 t_hangs=0 n=0
    shopt -s nullglob
    local stats=("$dir"/*/fuzzer_stats)
    shopt -u nullglob
    if ((${#stats[@]} == 0)); then
        log "no fuzzer_stats under ${dir}"
        return 2
    fi
    printf '%-8s %14s %10s %8s %8s %6s\n' instance execs_done execs/s corpus crashes hangs
    for f in "${stats[@]}"; do
        name="$(basename "$(dirname "$f")")"
        execs="$(stat_of "$f" execs_done)"
        eps="$(stat_of "$f" execs_per_sec)"
        corpus="$(stat_of "$f" corpus_count)"
        [[ -n "$corpus" ]] || corpus="$(stat_of "$f" paths_total)"
        crashes="$(stat_of "$f" saved_crashes)"
        [[ -n "$crashes" ]] || crashes="$(stat_of "$f" unique_crashes)"
        hangs="$(stat_of "$f" saved_hangs)"
        [[ -n "$hangs" ]] || hangs="$(stat_of "$f" unique_hangs)"
        printf '%-8s %14s %10s %8s %8s %6s\n' "$name" "${execs:-0}" "${eps:-0}" "${corpus:-0}" "${crashes:-0}" "${hangs:-0}"
        t_execs=$((t_execs + ${execs:-0}))
        t_eps="$(awk -v a="$t_eps" -v b="${eps:-0}" 'BEGIN { printf "%.2f", a + b }')"
        t_corpus=$((t_corpus + ${corpus:-0}))
        t_crashes=$((t_crashes + ${crashes:-0}))
        t_hangs=$((t_hangs + ${hangs:-0}))
        n=$((n + 1))
    done
    printf '%-8s %14s %10s %8s %8s %6s\n' "total($n)" "$t_execs" "$t_eps" "$t_corpus" "$t_crashes" "$t_hangs"
    printf '(corpus is per instance and overlaps after syncing; total corpus counts duplicates)\n'
    if ((t_crashes > 0)); then
        log "CRASHES saved: see ${dir}/*/crashes/"
        return 1
    fi
    return 0
}

PIDS=()
stop_instances() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

do_fuzz() {
    [[ -x "$BINARY" ]] || die "$BINARY missing; run $(basename "$0") --build"
    [[ -d "$INPUT_DIR" ]] || die "seed dir $INPUT_DIR missing"
    if [[ -z "$(find "$INPUT_DIR" -type f -print -quit)" ]]; then
        die "seed dir $INPUT_DIR is empty"
    fi
    local bindir
    bindir="$(afl_bin_dir)" || die "cargo-afl's afl-fuzz not found for $(rustc +nightly --version); run --install"
    setup_afl_env

    if ((CLEAN)); then
        log "removing ${OUTPUT_DIR}"
        rm -rf "$OUTPUT_DIR"
    fi
    if ((RESUME)); then
        export AFL_AUTORESUME=1
    elif [[ -d "$OUTPUT_DIR" ]] && [[ -n "$(find "$OUTPUT_DIR" -mindepth 1 -maxdepth 1 -print -quit)" ]]; then
        die "${OUTPUT_DIR} exists; use --resume to continue or --clean to start over"
    fi
    mkdir -p "$OUTPUT_DIR"

    local -a common=(-i "$INPUT_DIR" -o "$OUTPUT_DIR" -m 200)
    if ((MINUTES > 0)); then
        common+=(-V "$((MINUTES * 60))")
    fi
    # Unattended or in the background, all instances write to log files: no UI.
    export AFL_NO_UI=1

    local name log_file pid
    : >"${OUTPUT_DIR}/pids"
    while IFS= read -r name; do
        local -a role
        if [[ "$name" == main ]]; then
            role=(-M main -c0)
        else
            role=(-S "$name")
        fi
        log_file="${OUTPUT_DIR}/${name}.log"
        log "starting ${name}: afl-fuzz ${role[*]} ${common[*]} -- ${BINARY#"${REPO_ROOT}/"} --fuzz-file @@ (log: ${log_file#"${REPO_ROOT}/"})"
        if ((MINUTES > 0)); then
            "$bindir/afl-fuzz" "${role[@]}" "${common[@]}" -- "$BINARY" --fuzz-file @@ >"$log_file" 2>&1 &
        else
            nohup "$bindir/afl-fuzz" "${role[@]}" "${common[@]}" -- "$BINARY" --fuzz-file @@ >"$log_file" 2>&1 &
        fi
        pid=$!
        PIDS+=("$pid")
        printf '%s %s\n' "$pid" "$name" >>"${OUTPUT_DIR}/pids"
        # Let the primary create the sync dir layout first.
        if [[ "$name" == main ]]; then sleep 2; fi
    done < <(instance_names)

    if ((MINUTES == 0)); then
        log "started ${#PIDS[@]} instance(s) in the background (PIDs: ${PIDS[*]}, also in fuzz-out/pids)"
        log "watch:  cargo +nightly afl whatsup -s ${OUTPUT_DIR#"${REPO_ROOT}/"}   (or tail -f fuzz-out/main.log)"
        log "stats:  $(basename "$0") --status"
        log "stop:   kill \$(cut -d' ' -f1 ${OUTPUT_DIR#"${REPO_ROOT}/"}/pids)"
        return 0
    fi

    trap 'log "interrupted, stopping instances"; stop_instances; summary || true; exit 130' INT TERM
    log "running ${#PIDS[@]} instance(s) for ${MINUTES} minute(s)"
    local failed=0 deadline=$((SECONDS + MINUTES * 60 + 120))
    for pid in "${PIDS[@]}"; do
        # afl-fuzz -V stops by itself; the deadline is only a safety net.
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 5; done
        if kill -0 "$pid" 2>/dev/null; then
            log "instance $pid did not stop in time, killing it"
            kill "$pid" 2>/dev/null || true
        fi
        wait "$pid" || failed=1
    done
    PIDS=()
    trap - INT TERM
    rm -f "${OUTPUT_DIR}/pids"
    if ((failed)); then
        log "an afl-fuzz instance exited with an error; last lines of its log:"
        tail -n 15 "$OUTPUT_DIR"/*.log >&2 || true
    fi
    local rc=0
    summary || rc=$?
    if ((rc == 0 && failed)); then rc=2; fi
    return "$rc"
}

# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
INSTALL=0 BUILD=0 STATUS=0 RESUME=0 CLEAN=0 MINUTES=0 INSTANCES=4 ACTION_ONLY=0 FUZZ_ASKED=0
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --install) INSTALL=1; ACTION_ONLY=1 ;;
        --build) BUILD=1; ACTION_ONLY=1 ;;
        --status) STATUS=1 ;;
        --resume) RESUME=1 ;;
        --clean) CLEAN=1 ;;
        -j) [[ $# -ge 2 ]] || die "-j needs a number"; INSTANCES="$2"; FUZZ_ASKED=1; shift ;;
        -j*) INSTANCES="${1#-j}"; FUZZ_ASKED=1 ;;
        --minutes) [[ $# -ge 2 ]] || die "--minutes needs a number"; MINUTES="$2"; FUZZ_ASKED=1; shift ;;
        --minutes=*) MINUTES="${1#--minutes=}"; FUZZ_ASKED=1 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done
[[ "$INSTANCES" =~ ^[1-9][0-9]*$ ]] || die "-j wants a positive integer, got '$INSTANCES'"
[[ "$MINUTES" =~ ^[0-9]+$ ]] || die "--minutes wants a non-negative integer, got '$MINUTES'"

if ((STATUS)); then
    summary
    exit $?
fi
((INSTALL)) && do_install
((BUILD)) && do_build
# --install/--build alone only prepare; with -j or --minutes they also fuzz afterwards.
if ((ACTION_ONLY == 0 || FUZZ_ASKED)); then
    do_fuzz
fi
