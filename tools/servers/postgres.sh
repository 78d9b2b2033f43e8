#!/usr/bin/env bash
# Run a throw-away PostgreSQL server for Artifice's tests and benchmarks.
#
#   tools/servers/postgres.sh start DIR PORT   -> prints the SQLAlchemy URL
#   tools/servers/postgres.sh stop  DIR [PORT]
#
# The server listens on 127.0.0.1:PORT only, keeps its data in DIR/data, its
# unix socket in DIR/run and its logs in DIR/log.  It trusts every local
# connection (user "postgres", no password) and runs with fsync=off: never use
# it for anything but tests.  Installs Debian's postgresql packages when no
# server binaries are present (needs root).
set -euo pipefail

usage() {
    echo "usage: $0 start DIR PORT | stop DIR [PORT]" >&2
    exit 2
}

die() {
    echo "postgres.sh: $*" >&2
    exit 1
}

log_tail() {
    local f
    for f in "$@"; do
        if [[ -f "$f" ]]; then
            echo "---- last lines of $f ----" >&2
            tail -n 30 "$f" >&2 || true
        fi
    done
}

START_TIMEOUT=${PG_START_TIMEOUT:-60}

[[ $# -ge 2 ]] || usage
cmd=$1
dir=$2
port=${3:-}
case "$cmd" in
    start) [[ $# -eq 3 ]] || usage ;;
    stop) [[ $# -le 3 ]] || usage ;;
    *) usage ;;
esac
if [[ -n "$port" ]] && ! [[ "$port" =~ ^[0-9]+$ && "$port" -ge 1 && "$port" -le 65535 ]]; then
    die "PORT must be a number between 1 and 65535, got '$port'"
fi

if [[ "$cmd" == stop && ! -d "$dir" ]]; then
    exit 0
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
data="$dir/data"
sock="$dir/run"
logdir="$dir/log"
mkdir -p "$logdir"

pg_bindir() {
    # Newest installed major version.
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" ]] || continue
        if [[ -z "$best" ]] || [[ $(basename "$(dirname "$d")") -gt $(basename "$(dirname "$best")") ]]; then
            best=$d
        fi
    done
    echo "$best"
}

as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

bindir=$(pg_bindir)

# True when the postmaster recorded in DIR/data is alive (a killed postmaster
# can linger as a zombie, which pg_ctl status takes for a live server).
pg_running() {
    [[ -f "$data/PG_VERSION" ]] || return 1
    as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 1
    local pid state
    pid=$(sed -n 1p "$data/postmaster.pid" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
    [[ -n "$state" && "$state" != Z ]]
}

if [[ "$cmd" == stop ]]; then
    if [[ -z "$bindir" || ! -f "$data/PG_VERSION" ]]; then
        exit 0
    fi
    if pg_running; then
        as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t "$START_TIMEOUT" stop \
            >>"$logdir/pg_ctl.log" 2>&1 || {
            log_tail "$logdir/pg_ctl.log" "$logdir/postgres.log"
            die "pg_ctl stop failed"
        }
    fi
    exit 0
fi

# ---- start ----------------------------------------------------------------

if [[ -z "$bindir" ]]; then
    [[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed and we are not root to apt-get it"
    echo "postgres.sh: installing PostgreSQL with apt-get (log: $logdir/apt.log)" >&2
    {
        export DEBIAN_FRONTEND=noninteractive
        apt-get update && apt-get install -y postgresql postgresql-contrib
    } >>"$logdir/apt.log" 2>&1 || {
        log_tail "$logdir/apt.log"
        die "apt-get install postgresql failed"
    }
    bindir=$(pg_bindir)
    [[ -n "$bindir" ]] || die "no /usr/lib/postgresql/*/bin/initdb after installing postgresql"
fi

# Unix socket paths are limited to 107 bytes.
if (( ${#sock} + 20 > 107 )); then
    die "DIR is too long for a unix socket path ($sock); use a shorter DIR"
fi

exec 9>"$dir/.postgres.lock"
flock -w "$START_TIMEOUT" 9 || die "timed out waiting for the lock on $dir/.postgres.lock"

if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' user (is the postgresql package installed?)"
    chown postgres: "$dir" "$logdir"
    mkdir -p "$sock"
    chown postgres: "$sock"
    # The server runs as postgres: every parent of DIR must be traversable.
    if ! runuser -u postgres -- test -x "$dir" -a -w "$dir"; then
        die "user postgres cannot reach $dir (a parent folder is not traversable); use a DIR under /tmp"
    fi
else
    mkdir -p "$sock"
fi

url="postgresql+psycopg2://postgres@127.0.0.1:$port/postgres"

if pg_running; then
    running_port=$(sed -n 4p "$data/postmaster.pid" 2>/dev/null || true)
    if [[ "$running_port" != "$port" ]]; then
        die "a server is already running in $data on port ${running_port:-?}, not $port"
    fi
    if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -t 5; then
        echo "$url"
        exit 0
    fi
    die "the server in $data is running but does not answer on 127.0.0.1:$port (see $logdir/postgres.log)"
fi

if [[ ! -f "$data/PG_VERSION" ]]; then
    if [[ -e "$data" ]] && [[ -n "$(ls -A "$data" 2>/dev/null)" ]]; then
        die "$data exists, is not empty and is not a PostgreSQL data folder"
    fi
    rm -rf "$data"
    as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C \
        >>"$logdir/initdb.log" 2>&1 || {
        log_tail "$logdir/initdb.log"
        die "initdb failed"
    }
    printf "\n# Added by Artifice tools/servers/postgres.sh\ninclude_if_exists = 'artifice.conf'\n" \
        >>"$data/postgresql.conf"
fi

# A postmaster that was killed can stay a zombie until PID 1 reaps it (about
# 2 s in these containers); the new server would refuse its lock file meanwhile.
old_pid=$(sed -n 1p "$data/postmaster.pid" 2>/dev/null || true)
if [[ "$old_pid" =~ ^[0-9]+$ ]]; then
    deadline=$((SECONDS + START_TIMEOUT))
    while [[ "$(awk '{print $3}' "/proc/$old_pid/stat" 2>/dev/null || true)" == Z ]]; do
        if (( SECONDS >= deadline )); then
            die "the old postmaster (pid $old_pid) of $data is still a zombie after ${START_TIMEOUT}s"
        fi
        sleep 0.2
    done
fi

# Settings rewritten at every start, so that PORT may change between runs.
sock_esc=${sock//\'/\'\'}
cat >"$data/artifice.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock_esc'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
logging_collector = off
EOF
[[ $(id -u) -ne 0 ]] || chown postgres: "$data/artifice.conf"

# 9>&-: the server must not inherit (and so keep holding) the lock.
if ! as_pg "$bindir/pg_ctl" -D "$data" -l "$logdir/postgres.log" -w -t "$START_TIMEOUT" start \
    >>"$logdir/pg_ctl.log" 2>&1 9>&-; then
    log_tail "$logdir/pg_ctl.log" "$logdir/postgres.log"
    die "PostgreSQL did not start on 127.0.0.1:$port within ${START_TIMEOUT}s"
fi

deadline=$((SECONDS + START_TIMEOUT))
until "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -t 2; do
    if (( SECONDS >= deadline )); then
        log_tail "$logdir/postgres.log"
        die "PostgreSQL does not accept TCP connections on 127.0.0.1:$port after ${START_TIMEOUT}s"
    fi
    sleep 0.2
done

echo "$url"
