# Helpers shared by tools/servers/*.sh (sourced, not run).
# shellcheck shell=bash

SERVERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ARTIFICE_CACHE=${ARTIFICE_CACHE:-$HOME/.cache/artifice}
ARTIFICE_PYTHON=${ARTIFICE_PYTHON:-python3}
PROG=$(basename "$0")

die() {
    echo "$PROG: $*" >&2
    exit 1
}

note() {
    echo "$PROG: $*" >&2
}

log_tail() {
    local f
    for f in "$@"; do
        if [[ -f "$f" ]]; then
            echo "---- last lines of $f ----" >&2
            tail -n 40 "$f" >&2 || true
        fi
    done
}

check_port() {
    [[ "$1" =~ ^[0-9]+$ ]] && (( $1 >= 1 && $1 <= 65535 )) || die "PORT must be a number between 1 and 65535, got '$1'"
}

# abs_dir DIR: create DIR and print its absolute path.
abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd -P)
}

# True when PID is a live process (a killed child of PID 1 may linger as a zombie).
pid_alive() {
    local state
    [[ "$1" =~ ^[0-9]+$ ]] || return 1
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)
    [[ -n "$state" && "$state" != Z ]]
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pidfile_alive FILE: true when FILE names a live process.
pidfile_alive() {
    [[ -f "$1" ]] && pid_alive "$(cat "$1" 2>/dev/null)"
}

# start_bg PIDFILE LOG CMD...: run CMD in its own session (so that stop can kill
# its workers with it), detached from our stdout, and record its pid.
start_bg() {
    local pidfile=$1 log=$2
    shift 2
    setsid "$@" >>"$log" 2>&1 </dev/null 9>&- &
    echo $! >"$pidfile"
}

# Servers that a failing `start` must not leave behind: call
# cleanup_on_failure PIDFILE... right after starting them.
CLEANUP_PIDFILES=()
CLEANUP_COMMANDS=()
_cleanup_on_exit() {
    local rc=$? f c
    if (( rc != 0 )); then
        for f in "${CLEANUP_PIDFILES[@]}"; do
            stop_pidfile "$f" 5 || true
        done
        for c in "${CLEANUP_COMMANDS[@]}"; do
            eval "$c" >/dev/null 2>&1 || true
        done
    fi
    exit "$rc"
}
trap _cleanup_on_exit EXIT
cleanup_on_failure() {
    CLEANUP_PIDFILES+=("$@")
}

# stop_pidfile FILE [TIMEOUT]: TERM the process group, then KILL it.
stop_pidfile() {
    local pidfile=$1 timeout=${2:-20} pid deadline
    [[ -f "$pidfile" ]] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if pid_alive "$pid"; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + timeout))
        while pid_alive "$pid" && (( SECONDS < deadline )); do
            sleep 0.2
        done
        if pid_alive "$pid"; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
        fi
    fi
    # Workers left in the group (e.g. after the master was killed).
    if [[ "$pid" =~ ^[0-9]+$ ]]; then
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# wait_http URL TIMEOUT PIDFILE LOG...: wait until URL answers with an HTTP
# status below 500, while the process of PIDFILE is alive.
wait_http() {
    local url=$1 timeout=$2 pidfile=$3 code deadline
    shift 3
    deadline=$((SECONDS + timeout))
    while :; do
        code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$url" 2>/dev/null || true)
        if [[ "$code" =~ ^[1-4][0-9][0-9]$ ]]; then
            return 0
        fi
        if ! pidfile_alive "$pidfile"; then
            log_tail "$@"
            die "the server died before answering on $url"
        fi
        if (( SECONDS >= deadline )); then
            log_tail "$@"
            die "no answer from $url after ${timeout}s (last HTTP status: ${code:-none})"
        fi
        sleep 0.3
    done
}

# ensure_venv NAME SPEC_HASH INSTALL_FUNCTION: (re)build $ARTIFICE_CACHE/NAME
# unless it exists and its marker holds SPEC_HASH.  INSTALL_FUNCTION is called
# with the venv path once the bare venv exists; its output goes to
# $ARTIFICE_CACHE/NAME.log.  Prints the venv path.
ensure_venv() {
    local name=$1 hash=$2 fn=$3 venv log
    venv="$ARTIFICE_CACHE/$name"
    log="$ARTIFICE_CACHE/$name.log"
    mkdir -p "$ARTIFICE_CACHE"
    exec 8>"$ARTIFICE_CACHE/$name.lock"
    flock -w 1800 8 || die "timed out waiting for $ARTIFICE_CACHE/$name.lock"
    if [[ -x "$venv/bin/python" && -f "$venv/.artifice-marker" ]] \
        && [[ "$(cat "$venv/.artifice-marker")" == "$hash" ]]; then
        exec 8>&-
        echo "$venv"
        return 0
    fi
    note "building $venv (log: $log)"
    rm -rf "$venv"
    : >"$log"
    local t0=$SECONDS
    if ! "$ARTIFICE_PYTHON" -m venv "$venv" >>"$log" 2>&1; then
        log_tail "$log"
        die "could not create the venv $venv with $ARTIFICE_PYTHON"
    fi
    if ! ( set -euo pipefail; "$fn" "$venv" ) >>"$log" 2>&1; then
        log_tail "$log"
        rm -rf "$venv"
        die "building $venv failed"
    fi
    echo "$hash" >"$venv/.artifice-marker"
    note "built $venv in $((SECONDS - t0))s"
    exec 8>&-
    echo "$venv"
}

sha256_of() {
    cat "$@" | sha256sum | cut -d' ' -f1
}
