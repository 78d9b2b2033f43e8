#!/usr/bin/env bash
# Ceilometer 27.0.0's own Gnocchi code, to write test data into a real Gnocchi
# the way a stock deployment does (no RabbitMQ, no Nova, no Keystone).
#
#   tools/servers/ceilometer-publisher.sh install              build the cached venv
#   tools/servers/ceilometer-publisher.sh venv                 build it if needed; print its path
#   tools/servers/ceilometer-publisher.sh upgrade URL          ceilometer-upgrade + archive policies
#   tools/servers/ceilometer-publisher.sh publish URL FILE [OPTIONS]
#                                                   push samples through GnocchiPublisher
#   tools/servers/ceilometer-publisher.sh wait URL [--timeout S]   wait for metricd
#   tools/servers/ceilometer-publisher.sh python ARGS...       the venv's python
#
# URL is a Gnocchi with basic auth (tools/servers/gnocchi.sh; user "admin").
# FILE (or - for stdin) is a JSON list of sample dicts with counter_name,
# counter_type, counter_unit, counter_volume, user_id, project_id, resource_id,
# timestamp, resource_metadata and source: what the polling agent sends on the
# bus.  publish OPTIONS:
#   --batch all|timestamp|N  publish_samples calls: one for all samples (the
#                            default), one per timestamp (like polling cycles),
#                            or N samples each; samples are sorted by time
#   --settle S               after each call, wait up to S s for metricd
#   --wait S                 at the end, wait up to S s for metricd
#   --publisher-url URL      default gnocchi://?enable_filter_project=false
#                            (no Keystone to look the "service" project up in)
#   --allow-unhandled        do not fail on meters gnocchi_resources.yaml lacks
#   --debug                  Ceilometer's debug logs
# publish prints a JSON summary (Gnocchi ids of the resources and metrics) and
# exits 1 with the publisher's error when anything failed.  The Python side is
# ceilometer_publish.py.  Venv: ${ARTIFICE_CACHE:-$HOME/.cache/artifice}/ceilometer27-venv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONSTRAINTS="$SERVERS_DIR/ceilometer27-constraints.txt"
DRIVER="$SERVERS_DIR/ceilometer_publish.py"
# python-memcached: oslo.cache's memcache_pool backend needs it, and without it
# stevedore logs an ERROR each time the publisher sets up its (in-memory) cache.
REQUIREMENTS=("ceilometer==27.0.0" "python-memcached")

usage() {
    echo "usage: $0 install | venv | upgrade URL | publish URL FILE [OPTIONS] | wait URL [--timeout S] | python ARGS..." >&2
    exit 2
}

install_ceilometer27() {
    local venv=$1
    "$venv/bin/pip" install -c "$CONSTRAINTS" "${REQUIREMENTS[@]}"
    "$venv/bin/python" -c 'import ceilometer.publisher.gnocchi, ceilometer.cmd.storage, gnocchiclient.auth, memcache'
    [[ -x "$venv/bin/ceilometer-upgrade" ]]
}

venv_path() {
    [[ -f "$CONSTRAINTS" ]] || die "missing $CONSTRAINTS"
    ensure_venv ceilometer27-venv "$( (printf '%s\n' "${REQUIREMENTS[@]}"; cat "$CONSTRAINTS") | sha256sum | cut -d' ' -f1)" \
        install_ceilometer27
}

check_url() {
    [[ "$1" =~ ^https?:// ]] || die "GNOCCHI_URL must start with http:// or https://, got '$1'"
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case "$cmd" in
    install)
        [[ $# -eq 0 ]] || usage
        venv_path >/dev/null
        ;;
    venv)
        [[ $# -eq 0 ]] || usage
        venv_path
        ;;
    upgrade)
        [[ $# -eq 1 ]] || usage
        check_url "$1"
        venv=$(venv_path)
        exec "$venv/bin/python" "$DRIVER" upgrade "$1"
        ;;
    publish)
        [[ $# -ge 2 ]] || usage
        check_url "$1"
        [[ "$2" == - || -f "$2" ]] || die "no such file: $2"
        venv=$(venv_path)
        exec "$venv/bin/python" "$DRIVER" publish "$@"
        ;;
    wait)
        [[ $# -ge 1 ]] || usage
        check_url "$1"
        venv=$(venv_path)
        exec "$venv/bin/python" "$DRIVER" wait "$@"
        ;;
    python)
        venv=$(venv_path)
        exec "$venv/bin/python" "$@"
        ;;
    *) usage ;;
esac
