#!/usr/bin/env bash
# Run the legacy Ceilometer 9.0.7 v2 REST API (no Keystone) for Artifice's tests.
#
#   tools/servers/ceilometer.sh install           build the cached venv
#   tools/servers/ceilometer.sh start DIR PORT    -> prints http://127.0.0.1:PORT
#   tools/servers/ceilometer.sh stop DIR
#
# The venv lives in ${ARTIFICE_CACHE:-$HOME/.cache/artifice}/ceilometer-venv,
# built with `pip install --no-deps` from ceilometer-pins.txt (letting pip
# resolve ceilometer<10 takes too long and picks versions that fail at run
# time) and rebuilt when that file changes.  DIR holds the config, the SQLite
# database, the pid file and the log.  Samples are loaded with
# POST /v2/meters/NAME?direct=True and the header "X-Roles: admin".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

START_TIMEOUT=${CEILOMETER_START_TIMEOUT:-60}
PINS="$SERVERS_DIR/ceilometer-pins.txt"

usage() {
    echo "usage: $0 install | start DIR PORT | stop DIR" >&2
    exit 2
}

install_ceilometer() {
    local venv=$1 site f
    "$venv/bin/pip" install --no-deps -r "$PINS"
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    # Python 3.11 removed inspect.getargspec.
    for f in ceilometer/api/controllers/v2/base.py \
             ceilometer/api/controllers/v2/utils.py \
             ceilometer/storage/base.py; do
        [[ -f "$site/$f" ]] || { echo "missing $site/$f" >&2; return 1; }
        sed -i 's/inspect\.getargspec\b/inspect.getfullargspec/g' "$site/$f"
    done
    "$venv/bin/python" -c 'import ceilometer.api.app, ceilometer.storage.impl_sqlalchemy'
}

venv_path() {
    [[ -f "$PINS" ]] || die "missing $PINS"
    ensure_venv ceilometer-venv "$(sha256_of "$PINS")" install_ceilometer
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

cmd=$1
if [[ "$cmd" == stop ]]; then
    [[ -d "$2" ]] || exit 0
    dir=$(abs_dir "$2")
    stop_pidfile "$dir/ceilometer-api.pid"
    exit 0
fi

dir=$(abs_dir "$2")
port=$3
check_port "$port"
url="http://127.0.0.1:$port"
pidfile="$dir/ceilometer-api.pid"
log="$dir/ceilometer-api.log"

if pidfile_alive "$pidfile"; then
    [[ "$(cat "$dir/port" 2>/dev/null)" == "$port" ]] \
        || die "ceilometer-api already runs from $dir on port $(cat "$dir/port" 2>/dev/null || echo '?')"
    wait_http "$url/" "$START_TIMEOUT" "$pidfile" "$log"
    echo "$url"
    exit 0
fi
port_open "$port" && die "port $port on 127.0.0.1 is already in use"

venv=$(venv_path)

conf="$dir/ceilometer.conf"
cat >"$dir/api_paste.ini" <<'EOF'
[pipeline:main]
pipeline = request_id api-server

[app:api-server]
paste.app_factory = ceilometer.api.app:app_factory

[filter:request_id]
paste.filter_factory = oslo_middleware:RequestId.factory
EOF

# Anyone may do anything: there is no Keystone in front of this API.
cat >"$dir/policy.json" <<'EOF'
{
    "context_is_admin": "role:admin",
    "segregation": "rule:context_is_admin",
    "default": "",
    "telemetry:get_samples": "",
    "telemetry:get_sample": "",
    "telemetry:query_sample": "",
    "telemetry:create_samples": "",
    "telemetry:compute_statistics": "",
    "telemetry:get_meters": "",
    "telemetry:get_resource": "",
    "telemetry:get_resources": "",
    "telemetry:events:index": "",
    "telemetry:events:show": ""
}
EOF

cat >"$conf" <<EOF
[DEFAULT]
api_paste_config = $dir/api_paste.ini
meter_dispatchers = database
use_stderr = true
debug = false

[database]
connection = sqlite:///$dir/ceilometer.db
metering_connection = sqlite:///$dir/ceilometer.db

[api]
gnocchi_is_enabled = false
aodh_is_enabled = false
panko_is_enabled = false

[oslo_policy]
policy_file = $dir/policy.json
EOF

if ! timeout 300 "$venv/bin/ceilometer-upgrade" --config-file "$conf" --skip-gnocchi-resource-types \
    >>"$dir/ceilometer-upgrade.log" 2>&1; then
    log_tail "$dir/ceilometer-upgrade.log"
    die "ceilometer-upgrade failed"
fi

echo "$port" >"$dir/port"
start_bg "$pidfile" "$log" "$venv/bin/ceilometer-api" --host 127.0.0.1 --port "$port" -- --config-file "$conf"
cleanup_on_failure "$pidfile"
wait_http "$url/" "$START_TIMEOUT" "$pidfile" "$log"
echo "$url"
