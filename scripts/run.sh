#!/usr/bin/env bash
# Start polluxd in the foreground with the development defaults (what `make run` does).
#
#   scripts/run.sh [/path/to/pollux.conf] [--name value ...]
#
# The arguments go to polluxd unchanged, with one default added: idle workers sleep
# (pollux-idle-sleep-us RUN_IDLE_SLEEP_US, 200 µs without work) instead of busy-polling
# every core, so a development machine stays quiet while polluxd waits for clients.
# polluxd's own default, busy polling (0), is the appliance configuration; the
# default is not added when the arguments or the config file set pollux-idle-sleep-us.
#
# Environment: POLLUXD (the binary, default build/dataplane/polluxd of this checkout),
# RUN_IDLE_SLEEP_US (the added default, 200).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
polluxd=${POLLUXD:-$root/build/dataplane/polluxd}
idle=(--pollux-idle-sleep-us "${RUN_IDLE_SLEEP_US:-200}")

for arg in "$@"; do
    if [ "${arg,,}" = --pollux-idle-sleep-us ]; then
        idle=()
    fi
done
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    # A config file comes first, as for redis-server.
    if grep -qiE '^[[:space:]]*pollux-idle-sleep-us([[:space:]]|$)' "$1" 2>/dev/null; then
        idle=()
    fi
elif [ "${1:-}" = - ]; then
    idle=() # the config comes from stdin: it may set the parameter
fi

exec "$polluxd" "$@" "${idle[@]}"
