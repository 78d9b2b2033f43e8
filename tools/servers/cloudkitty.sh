#!/usr/bin/env bash
# OpenStack CloudKitty 25.0.0's code, for the benchmarks' comparisons: the
# end-to-end one drives its Gnocchi collector the way a processor worker does
# (tools/benchmarks/cloudkitty_month.py), tools/benchmarks/cloudkitty_processor.py
# runs its whole cloudkitty-processor on PostgreSQL.  No server is started here.
#
#   tools/servers/cloudkitty.sh install    build the cached venv
#   tools/servers/cloudkitty.sh venv       build it if needed; print its path
#
# Venv: ${ARTIFICE_CACHE:-$HOME/.cache/artifice}/cloudkitty-venv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONSTRAINTS="$SERVERS_DIR/cloudkitty-constraints.txt"
# psycopg2-binary (prebuilt wheels, unlike psycopg2): the processor benchmark keeps CloudKitty's
# database in PostgreSQL, since its workers lock each other out of a SQLite one.
REQUIREMENTS=("cloudkitty==25.0.0" "psycopg2-binary")

install_cloudkitty() {
    local venv=$1
    "$venv/bin/pip" install -c "$CONSTRAINTS" "${REQUIREMENTS[@]}"
    "$venv/bin/python" -c 'import cloudkitty.collector.gnocchi, psycopg2'
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
