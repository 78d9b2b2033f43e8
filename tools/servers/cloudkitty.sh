#!/usr/bin/env bash
# OpenStack CloudKitty 25.0.0's code, for the end-to-end benchmark's comparison
# (tools/benchmarks/cloudkitty_month.py runs its Gnocchi collector).  No server
# is started: the benchmark drives the collector the way a processor worker does.
#
#   tools/servers/cloudkitty.sh install    build the cached venv
#   tools/servers/cloudkitty.sh venv       build it if needed; print its path
#
# Venv: ${ARTIFICE_CACHE:-$HOME/.cache/artifice}/cloudkitty-venv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONSTRAINTS="$SERVERS_DIR/cloudkitty-constraints.txt"
REQUIREMENTS=("cloudkitty==25.0.0")

install_cloudkitty() {
    local venv=$1
    "$venv/bin/pip" install -c "$CONSTRAINTS" "${REQUIREMENTS[@]}"
    "$venv/bin/python" -c 'import cloudkitty.collector.gnocchi'
}

venv_path() {
    [[ -f "$CONSTRAINTS" ]] || die "missing $CONSTRAINTS"
    ensure_venv cloudkitty-venv "$( (printf '%s\n' "${REQUIREMENTS[@]}"; cat "$CONSTRAINTS") | sha256sum | cut -d' ' -f1)" \
        install_cloudkitty
}

case "${1:-}" in
    install) venv_path >/dev/null ;;
    venv) venv_path ;;
    *) echo "usage: $0 install | venv" >&2; exit 2 ;;
esac
