#!/usr/bin/env bash
# Print the path of a command from a Debian package, installing the package first if missing.
#
#   tools/servers/debian-tool.sh COMMAND PACKAGE   -> prints /usr/bin/COMMAND
#
# Used by the tests for tools they drive but do not ship: faketime (a host whose
# clock is wrong), redis-server (a real tooz backend). Installing needs root.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

[[ $# -eq 2 ]] || { echo "usage: $0 COMMAND PACKAGE" >&2; exit 2; }
command=$1
package=$2
if ! path=$(command -v "$command"); then
    [[ $(id -u) -eq 0 ]] || die "$command is not installed and we are not root to apt-get $package"
    log=$(mktemp -t "artifice-apt-$package.XXXXXX.log")
    note "installing $package with apt-get (log: $log)"
    {
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y "$package" || { apt-get update && apt-get install -y "$package"; }
    } >>"$log" 2>&1 || {
        log_tail "$log"
        die "apt-get install $package failed"
    }
    path=$(command -v "$command") || die "no $command after installing $package"
fi
echo "$path"
