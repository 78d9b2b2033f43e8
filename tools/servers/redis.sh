#!/usr/bin/env bash
# Run a throw-away Redis server, a real tooz coordination backend for the daemon's scale-out tests.
#
#   tools/servers/redis.sh start DIR PORT   -> prints redis://127.0.0.1:PORT
#   tools/servers/redis.sh stop  DIR
#
# Listens on 127.0.0.1:PORT only, keeps nothing on disk (no RDB, no AOF) and its log in DIR.
# Installs Debian's redis-server when it is missing (needs root).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

[[ $# -ge 2 ]] || { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }
cmd=$1
dir=$(abs_dir "$2")
pidfile="$dir/redis.pid"
log="$dir/redis.log"

if [[ "$cmd" == stop ]]; then
    stop_pidfile "$pidfile" 10
    exit 0
fi
[[ "$cmd" == start && $# -eq 3 ]] || { echo "usage: $0 start DIR PORT" >&2; exit 2; }
port=$3
check_port "$port"
server=$(bash "$SERVERS_DIR/debian-tool.sh" redis-server redis-server)
if pidfile_alive "$pidfile"; then
    echo "redis://127.0.0.1:$port"
    exit 0
fi
start_bg "$pidfile" "$log" "$server" --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$dir" --daemonize no --protected-mode yes
cleanup_on_failure "$pidfile"
deadline=$((SECONDS + 30))
until port_open "$port"; do
    pidfile_alive "$pidfile" || { log_tail "$log"; die "redis-server died at start"; }
    (( SECONDS < deadline )) || { log_tail "$log"; die "redis-server does not listen on 127.0.0.1:$port after 30s"; }
    sleep 0.1
done
echo "redis://127.0.0.1:$port"
