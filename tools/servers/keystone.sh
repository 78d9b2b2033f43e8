#!/usr/bin/env bash
# Run Keystone 30.0.0 (identity v3, SQLite, Fernet tokens) for Artifice's tests.
#
#   tools/servers/keystone.sh install           build the cached venv
#   tools/servers/keystone.sh start DIR PORT    -> prints http://127.0.0.1:PORT/v3
#   tools/servers/keystone.sh stop DIR
#
# DIR holds keystone.conf, the SQLite database, the key repositories, the pid
# file and the log.  `start` bootstraps user "admin" (project "admin", role
# "admin", region RegionOne, identity endpoints at the printed URL) with the
# password $KEYSTONE_ADMIN_PASSWORD (default "artifice-admin").  Keystone runs
# under gunicorn through keystone_wsgi.py.
# Venv: ${ARTIFICE_CACHE:-$HOME/.cache/artifice}/keystone-venv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

START_TIMEOUT=${KEYSTONE_START_TIMEOUT:-60}
CONSTRAINTS="$SERVERS_DIR/keystone-constraints.txt"
REQUIREMENTS=("keystone==30.0.0" "gunicorn>=25.1")
ADMIN_PASSWORD=${KEYSTONE_ADMIN_PASSWORD:-artifice-admin}

usage() {
    echo "usage: $0 install | start DIR PORT | stop DIR" >&2
    exit 2
}

install_keystone() {
    local venv=$1
    "$venv/bin/pip" install -c "$CONSTRAINTS" "${REQUIREMENTS[@]}"
    "$venv/bin/python" -c 'import keystone.server.wsgi, gunicorn'
}

venv_path() {
    [[ -f "$CONSTRAINTS" ]] || die "missing $CONSTRAINTS"
    ensure_venv keystone-venv "$( (printf '%s\n' "${REQUIREMENTS[@]}"; cat "$CONSTRAINTS") | sha256sum | cut -d' ' -f1)" \
        install_keystone
}

[[ $# -ge 1 ]] || usage
case "$1" in
    install)
        [[ $# -eq 1 ]] || usage
        venv_path >/dev/null
        exit 0
        ;;
    start) [[ $# -eq 3 ]] || usage ;;
    stop) [[ $# -eq 2 ]] || usage ;;
    *) usage ;;
esac

if [[ "$1" == stop ]]; then
    [[ -d "$2" ]] || exit 0
    dir=$(abs_dir "$2")
    stop_pidfile "$dir/keystone.pid"
    exit 0
fi

dir=$(abs_dir "$2")
port=$3
check_port "$port"
url="http://127.0.0.1:$port/v3"
conf="$dir/keystone.conf"
pidfile="$dir/keystone.pid"
log="$dir/keystone.log"
setup_log="$dir/keystone-manage.log"

if pidfile_alive "$pidfile"; then
    [[ "$(cat "$dir/port" 2>/dev/null)" == "$port" ]] \
        || die "keystone already runs from $dir on port $(cat "$dir/port" 2>/dev/null || echo '?')"
    wait_http "$url" "$START_TIMEOUT" "$pidfile" "$log"
    echo "$url"
    exit 0
fi
port_open "$port" && die "port $port on 127.0.0.1 is already in use"

venv=$(venv_path)

mkdir -p "$dir/fernet-keys" "$dir/receipt-keys" "$dir/credential-keys"
cat >"$conf" <<EOF
[DEFAULT]
debug = false
use_stderr = true

[database]
connection = sqlite:///$dir/keystone.db

[token]
provider = fernet

[fernet_tokens]
key_repository = $dir/fernet-keys

[fernet_receipts]
key_repository = $dir/receipt-keys

[credential]
key_repository = $dir/credential-keys

[cache]
enabled = false
EOF

manage() {
    if ! timeout 300 "$venv/bin/keystone-manage" --config-file "$conf" "$@" >>"$setup_log" 2>&1; then
        log_tail "$setup_log"
        die "keystone-manage $1 failed"
    fi
}

user=$(id -un)
group=$(id -gn)
manage db_sync
[[ -f "$dir/fernet-keys/0" ]] || manage fernet_setup --keystone-user "$user" --keystone-group "$group"
[[ -f "$dir/credential-keys/0" ]] || manage credential_setup --keystone-user "$user" --keystone-group "$group"
# bootstrap is idempotent; it also resets the admin password.
manage bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
    --bootstrap-admin-url "$url/" --bootstrap-internal-url "$url/" \
    --bootstrap-public-url "$url/" --bootstrap-region-id RegionOne

echo "$port" >"$dir/port"
OS_KEYSTONE_CONFIG_FILES="$conf" start_bg "$pidfile" "$log" \
    "$venv/bin/gunicorn" --no-control-socket --pythonpath "$SERVERS_DIR" \
    --bind "127.0.0.1:$port" --workers 2 --timeout 120 --graceful-timeout 5 \
    keystone_wsgi:application
cleanup_on_failure "$pidfile"
wait_http "$url" "$START_TIMEOUT" "$pidfile" "$log"
echo "$url"
