#!/usr/bin/env bash
# Install the Debian packages Pollux needs to build, run and test.
#
#   scripts/deps.sh            the runtime set: enough for `make build` / `make run`
#   scripts/deps.sh --dev      + what the test stages, benchmarks and formatting need
#   scripts/deps.sh --cross    + the aarch64 cross toolchain and qemu-user
#   scripts/deps.sh --format   + clang-format only (`make format`)
#   scripts/deps.sh --all      all of the above (`make test`, .ci/run)
#   scripts/deps.sh --print    print the package list for the chosen sets and exit
#
# When everything is installed it only runs one dpkg-query and exits. Otherwise it runs
# `apt-get update` and `apt-get install --no-install-recommends` for the missing packages,
# as root, through sudo when not root, or fails after printing the command to run.
#
# Package services (redis-server, memcached) are kept from starting during the install,
# and a packaged redis-server left running on port 6379 by an install is stopped: the
# tests start their own servers, and `make run` needs 6379 for polluxd.
set -euo pipefail

# One line per set; adding a package is a one-word change. libdpdk-dev is in the runtime
# set: the DPDK backend is part of the default build (meson's dpdk option is `enabled`).
# iproute2 and iputils-ping are for the dpdk suite (ip netns, ip addr, ping), which a
# minimal Debian lacks; openssl (the CLI) makes the certificates of the TLS tests.
RUNTIME_PKGS="build-essential meson ninja-build pkg-config libjemalloc-dev libcmocka-dev liblzf-dev libisal-dev
              libsqlite3-dev libssl-dev libdpdk-dev libxxhash-dev liblua5.1-0-dev lua-cjson-dev
              lua-bitop-dev"
DEV_PKGS="libbenchmark-dev redis-server redis-tools python3-redis memcached iproute2 iputils-ping
          clang clang-format gnuplot-nox openssl"
CROSS_PKGS="crossbuild-essential-arm64 qemu-user"
FORMAT_PKGS="clang-format"

want_dev=0
want_cross=0
want_format=0
print_only=0
for arg in "$@"; do
    case "$arg" in
    --runtime) ;;
    --dev) want_dev=1 ;;
    --cross) want_cross=1 ;;
    --format) want_format=1 ;;
    --all) want_dev=1 want_cross=1 ;;
    --print) print_only=1 ;;
    -h | --help)
        sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "deps.sh: unknown argument '$arg' (try --help)" >&2
        exit 2
        ;;
    esac
done

pkgs="$RUNTIME_PKGS"
[ "$want_dev" = 1 ] && pkgs="$pkgs $DEV_PKGS"
[ "$want_cross" = 1 ] && pkgs="$pkgs $CROSS_PKGS"
[ "$want_format" = 1 ] && pkgs="$pkgs $FORMAT_PKGS"
# shellcheck disable=SC2086
set -- $pkgs

if [ "$print_only" = 1 ]; then
    echo "$@"
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: dpkg-query not found; this script supports Debian 12 (bookworm) only" >&2
    echo "deps.sh: install by hand: $*" >&2
    exit 1
fi

# Which of the wanted packages are fully installed? (One process, a few milliseconds.)
installed=" $(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "$@" 2>/dev/null |
    awk '$1 == "installed" { printf "%s ", $2 }' || true)"
missing=()
for p in "$@"; do
    case "$installed" in
    *" $p "*) ;;
    *) missing+=("$p") ;;
    esac
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "deps.sh: installing missing packages: ${missing[*]}"

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    # No password prompt without a terminal (CI): fail instead of hanging.
    if [ -t 0 ]; then as_root=(sudo); else as_root=(sudo -n); fi
else
    echo "deps.sh: not root and sudo is not available; run as root:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

# Remember which packaged servers were already installed, so that only a server started by
# this install is stopped afterwards.
redis_was_installed=0
memcached_was_installed=0
case "$installed" in *" redis-server "*) redis_was_installed=1 ;; esac
case "$installed" in *" memcached "*) memcached_was_installed=1 ;; esac

# Keep package postinst scripts from starting services (invoke-rc.d and
# deb-systemd-invoke both ask policy-rc.d). Only when the machine has no policy of its own.
policy=/usr/sbin/policy-rc.d
made_policy=0
cleanup() {
    if [ "$made_policy" = 1 ]; then
        "${as_root[@]}" rm -f "$policy" || true
    fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# Temporary: written by the Pollux deps script during an install.\nexit 101\n' |
        "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    made_policy=1
fi

apt_env=(env DEBIAN_FRONTEND=noninteractive)
"${as_root[@]}" "${apt_env[@]}" apt-get update -q
"${as_root[@]}" "${apt_env[@]}" apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"

cleanup
made_policy=0

# Stop a packaged server that the install started anyway (a machine whose policy-rc.d
# allows starts, or systemd), identified by the package's own pid file.
stop_packaged() { # name pidfile
    local name=$1 pidfile=$2 pid
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        if systemctl is-active --quiet "$name" 2>/dev/null; then
            echo "deps.sh: stopping and disabling the packaged $name service"
            "${as_root[@]}" systemctl disable --now "$name" >/dev/null 2>&1 || true
        fi
    fi
    [ -r "$pidfile" ] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    if [ -r "/proc/$pid/comm" ] && grep -q "^$name" "/proc/$pid/comm"; then
        echo "deps.sh: stopping the packaged $name (pid $pid) started by the install"
        "${as_root[@]}" kill "$pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            [ -d "/proc/$pid" ] || break
            sleep 0.2
        done
    fi
}
if [ "$redis_was_installed" = 0 ] && dpkg-query -W -f='${db:Status-Status}' redis-server 2>/dev/null | grep -q '^installed'; then
    stop_packaged redis-server /run/redis/redis-server.pid
fi
if [ "$memcached_was_installed" = 0 ] && dpkg-query -W -f='${db:Status-Status}' memcached 2>/dev/null | grep -q '^installed'; then
    stop_packaged memcached /run/memcached/memcached.pid
fi

echo "deps.sh: done"
