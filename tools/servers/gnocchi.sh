#!/usr/bin/env bash
# Run Gnocchi 4.7.1 (API + metricd) for Artifice's tests and benchmarks.
#
#   tools/servers/gnocchi.sh install                  build the cached venv
#   tools/servers/gnocchi.sh start DIR PORT [PGPORT]  -> prints http://127.0.0.1:PORT
#   tools/servers/gnocchi.sh stop DIR
#
# The indexer is a PostgreSQL database "gnocchi" in a server that
# tools/servers/postgres.sh runs from DIR/pg on 127.0.0.1:PGPORT (default
# PORT+1), so DIR must be reachable by user postgres (e.g. under /tmp).
# Measures are stored as files in DIR/storage.  Auth mode is "basic": any user
# name with an empty password, "admin" being the admin (curl -u admin: ...).
# The API runs under gunicorn (gnocchi_wsgi.py), metricd with one worker and a
# 1 s processing delay.  The "instance" resource type that Ceilometer creates
# is created here too, unless GNOCCHI_RESOURCE_TYPES=none (then only Gnocchi's
# "generic" exists, e.g. for ceilometer-publisher.sh upgrade to create
# Ceilometer's own types).  Venv: ${ARTIFICE_CACHE:-$HOME/.cache/artifice}/gnocchi-venv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

START_TIMEOUT=${GNOCCHI_START_TIMEOUT:-90}
# "instance" (default): create the instance resource type; "none": create none.
RESOURCE_TYPES=${GNOCCHI_RESOURCE_TYPES:-instance}
# metricd locks and lists every sack each metric_processing_delay (1 s here):
# Gnocchi's default of 128 sacks keeps an idle server busy on 0.8 of a CPU.
SACKS=${GNOCCHI_SACKS:-8}
CONSTRAINTS="$SERVERS_DIR/gnocchi-constraints.txt"
# gnocchi[postgresql] without its psycopg2 (which compiles against libpq-dev):
# psycopg2-binary ships prebuilt wheels.
REQUIREMENTS=("gnocchi==4.7.1" "psycopg2-binary" "oslo.db" "sqlalchemy" "sqlalchemy-utils" "alembic"
              "gnocchiclient" "gunicorn>=25.1")

usage() {
    echo "usage: $0 install | start DIR PORT [PGPORT] | stop DIR" >&2
    exit 2
}

install_gnocchi() {
    local venv=$1
    "$venv/bin/pip" install -c "$CONSTRAINTS" "${REQUIREMENTS[@]}"
    "$venv/bin/python" -c 'import gnocchi.rest.app, gnocchiclient, gunicorn, psycopg2'
}

venv_path() {
    [[ -f "$CONSTRAINTS" ]] || die "missing $CONSTRAINTS"
    ensure_venv gnocchi-venv "$( (printf '%s\n' "${REQUIREMENTS[@]}"; cat "$CONSTRAINTS") | sha256sum | cut -d' ' -f1)" \
        install_gnocchi
}

[[ $# -ge 1 ]] || usage
case "$1" in
    install)
        [[ $# -eq 1 ]] || usage
        venv_path >/dev/null
        exit 0
        ;;
    start)
        [[ $# -eq 3 || $# -eq 4 ]] || usage
        [[ "$RESOURCE_TYPES" == instance || "$RESOURCE_TYPES" == none ]] \
            || die "GNOCCHI_RESOURCE_TYPES must be 'instance' or 'none', got '$RESOURCE_TYPES'"
        ;;
    stop) [[ $# -eq 2 ]] || usage ;;
    *) usage ;;
esac

if [[ "$1" == stop ]]; then
    [[ -d "$2" ]] || exit 0
    dir=$(abs_dir "$2")
    stop_pidfile "$dir/gnocchi-metricd.pid"
    stop_pidfile "$dir/gnocchi-api.pid"
    "$SERVERS_DIR/postgres.sh" stop "$dir/pg"
    exit 0
fi

dir=$(abs_dir "$2")
port=$3
check_port "$port"
pgport=${4:-$((port + 1))}
check_port "$pgport"
url="http://127.0.0.1:$port"
conf="$dir/gnocchi.conf"
api_pid="$dir/gnocchi-api.pid"
api_log="$dir/gnocchi-api.log"
md_pid="$dir/gnocchi-metricd.pid"
md_log="$dir/gnocchi-metricd.log"

if pidfile_alive "$api_pid"; then
    [[ "$(cat "$dir/port" 2>/dev/null)" == "$port" ]] \
        || die "gnocchi-api already runs from $dir on port $(cat "$dir/port" 2>/dev/null || echo '?')"
fi
if ! pidfile_alive "$api_pid"; then
    port_open "$port" && die "port $port on 127.0.0.1 is already in use"
fi

venv=$(venv_path)

"$SERVERS_DIR/postgres.sh" start "$dir/pg" "$pgport" >/dev/null
psql=(psql -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -qAt)
if [[ -z "$("${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'gnocchi'")" ]]; then
    "${psql[@]}" -d postgres -c "CREATE DATABASE gnocchi" >/dev/null
fi

mkdir -p "$dir/storage"
cat >"$conf" <<EOF
[DEFAULT]
debug = false

[api]
auth_mode = basic
host = 127.0.0.1
port = $port

[indexer]
url = postgresql://postgres@127.0.0.1:$pgport/gnocchi

[storage]
driver = file
file_basepath = $dir/storage

[metricd]
workers = 1
metric_processing_delay = 1
EOF

# gnocchi-upgrade retries forever on some errors: bound it.
if ! timeout 300 "$venv/bin/gnocchi-upgrade" --config-file "$conf" --sacks-number "$SACKS" \
        >>"$dir/gnocchi-upgrade.log" 2>&1; then
    log_tail "$dir/gnocchi-upgrade.log"
    die "gnocchi-upgrade failed or timed out"
fi

echo "$port" >"$dir/port"
if ! pidfile_alive "$api_pid"; then
    GNOCCHI_CONFIG_FILE="$conf" start_bg "$api_pid" "$api_log" \
        "$venv/bin/gunicorn" --no-control-socket --pythonpath "$SERVERS_DIR" \
        --bind "127.0.0.1:$port" --workers 2 --timeout 300 --graceful-timeout 5 \
        gnocchi_wsgi:application
fi
if ! pidfile_alive "$md_pid"; then
    start_bg "$md_pid" "$md_log" "$venv/bin/gnocchi-metricd" --config-file "$conf"
fi

cleanup_on_failure "$md_pid" "$api_pid"
wait_http "$url/" "$START_TIMEOUT" "$api_pid" "$api_log"
pidfile_alive "$md_pid" || { log_tail "$md_log"; die "gnocchi-metricd died"; }

# The resource type Ceilometer creates for Nova servers (same attributes).
if [[ "$RESOURCE_TYPES" == instance ]]; then
    code=$(curl -s -o /dev/null -m 30 -w '%{http_code}' -u admin: "$url/v1/resource_type/instance" || true)
    if [[ "$code" == 404 ]]; then
        code=$(curl -s -o "$dir/resource_type.out" -m 30 -w '%{http_code}' -u admin: \
            -H 'Content-Type: application/json' -X POST "$url/v1/resource_type" -d '{
              "name": "instance",
              "attributes": {
                "display_name": {"type": "string", "min_length": 0, "max_length": 255, "required": true},
                "flavor_id": {"type": "string", "min_length": 0, "max_length": 255, "required": true},
                "flavor_name": {"type": "string", "min_length": 0, "max_length": 255, "required": true},
                "host": {"type": "string", "min_length": 0, "max_length": 255, "required": true},
                "image_ref": {"type": "string", "min_length": 0, "max_length": 255, "required": false},
                "server_group": {"type": "string", "min_length": 0, "max_length": 255, "required": false}
              }}' || true)
        # 409: created meanwhile by someone else.
        if [[ "$code" != 201 && "$code" != 409 ]]; then
            log_tail "$dir/resource_type.out" "$api_log"
            die "could not create the instance resource type (HTTP $code)"
        fi
    elif [[ "$code" != 200 ]]; then
        log_tail "$api_log"
        die "GET /v1/resource_type/instance answered HTTP $code"
    fi
fi

echo "$url"
