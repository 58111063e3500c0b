#!/usr/bin/env bash
# Build the arm64 sysroot used by the aarch64 cross build (`make cross`, stage d of
# `make test`).
#
#   scripts/arm64-sysroot.sh          create .sysroot-arm64/ if missing or out of date
#   scripts/arm64-sysroot.sh --force  rebuild it from scratch
#   scripts/arm64-sysroot.sh --list   print the arm64 packages it would unpack, and exit
#
# arm64 -dev packages cannot be installed next to their amd64 twins (libjemalloc-dev:arm64
# conflicts with libjemalloc-dev:amd64), so they are never installed. Instead the script
# enables the arm64 architecture in dpkg (which only adds package lists; nothing native
# changes), resolves the dependency closure of the packages below, `apt-get download`s the
# arm64 .debs and unpacks them with `dpkg -x` into .sysroot-arm64/ at the repo root.
# libc, libgcc and libstdc++ come from the cross toolchain (crossbuild-essential-arm64,
# which lives in /usr/aarch64-linux-gnu), so they are left out of the closure.
#
# Once complete, the sysroot carries a stamp naming the package list; later runs with the
# same list return at once and need neither root nor the network.
set -euo pipefail

# The arm64 libraries the cross build links against. Adding one is a one-word change.
# libdpdk-dev brings the DPDK backend (and its ~230-package closure, about a minute).
SYSROOT_PKGS="libjemalloc-dev libcmocka-dev liblzf-dev libisal-dev libsqlite3-dev libdpdk-dev libssl-dev
              libxxhash-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev"

# Packages the cross toolchain stands in for, besides every one with an installed
# -arm64-cross twin (libc6, libc6-dev, linux-libc-dev, libgcc-s1, libstdc++6, ...).
TOOLCHAIN_PKGS="libc6 libc6-dev libc-dev linux-libc-dev libgcc-s1 libstdc++6 gcc-12-base"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sysroot="$root/.sysroot-arm64"
stamp="$sysroot/.complete"
# Bump when the layout of the sysroot changes, so old caches are rebuilt.
layout=2
# shellcheck disable=SC2086 # split the list on purpose
want="layout=$layout packages=$(printf '%s\n' $SYSROOT_PKGS | sort | tr '\n' ' ')"

force=0
list_only=0
for arg in "$@"; do
    case "$arg" in
    --force) force=1 ;;
    --list) list_only=1 ;;
    -h | --help)
        sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "arm64-sysroot.sh: unknown argument '$arg'" >&2
        exit 2
        ;;
    esac
done

if [ "$force" = 0 ] && [ "$list_only" = 0 ] && [ -f "$stamp" ] &&
    [ "$(head -n 1 "$stamp")" = "$want" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    if [ -t 0 ]; then as_root=(sudo); else as_root=(sudo -n); fi
else
    as_root=(false)
fi

# 1. Make the arm64 package lists available.
if ! dpkg --print-foreign-architectures | grep -qx arm64 ||
    ! apt-cache show libc6:arm64 >/dev/null 2>&1; then
    if [ "${as_root[*]}" = false ]; then
        echo "arm64-sysroot.sh: need root to enable the arm64 package lists; run as root:" >&2
        echo "  dpkg --add-architecture arm64 && apt-get update" >&2
        exit 1
    fi
    echo "arm64-sysroot.sh: enabling the arm64 architecture for package downloads"
    "${as_root[@]}" dpkg --add-architecture arm64
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
fi

# 2. Resolve the closure. For each dependency take the first alternative; skip what the
# native (Multi-Arch: foreign) packages or the cross toolchain satisfy; keep arm64 packages,
# plus arch-independent lib* packages (data and headers that libraries ship apart).
skip=" "
for p in $TOOLCHAIN_PKGS; do skip="$skip$p "; done
for p in $(dpkg-query -W -f='${db:Status-Status} ${Package}\n' '*-arm64-cross' 2>/dev/null |
    awk '$1 == "installed" { sub(/-arm64-cross$/, "", $2); print $2 }'); do
    skip="$skip$p "
done

deps_of() { # arm64 package names in, one direct dependency per line out
    apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "$@" | awk '
        function flush() {
            if (dep == "") return
            if (prov != "") { if (prov ~ /:arm64$/) print prov }   # else native satisfies it
            else if (dep !~ /^</) print dep
            else { d = dep; gsub(/[<>]/, "", d); sub(/:arm64$/, "", d); if (d ~ /^lib/) print d ":all" }
            dep = ""; prov = ""
        }
        /^[^ ]/ { flush(); alt = 0; next }
        /^ [ |](Pre)?Depends: / {
            flush()
            if (!alt) { dep = $2; prov = "" }
            alt = (substr($0, 2, 1) == "|")
            next
        }
        /^    [^ ]/ { if (dep != "" && prov == "") prov = $1; next }
        END { flush() }'
}

closure=()
seen=" "
frontier=()
for p in $SYSROOT_PKGS; do frontier+=("$p:arm64"); done
while [ "${#frontier[@]}" -gt 0 ]; do
    next=()
    query=()
    for p in "${frontier[@]}"; do
        base=${p%:*}
        case "$seen" in *" $base "*) continue ;; esac
        seen="$seen$base "
        case "$skip" in *" $base "*) continue ;; esac
        if [ "${p##*:}" = all ]; then
            # Only keep it if it really is an arch-independent package.
            apt-cache show "$base" 2>/dev/null | grep -qx 'Architecture: all' || continue
            closure+=("$base")
            query+=("$base")
        else
            closure+=("$p")
            query+=("$p")
        fi
    done
    [ "${#query[@]}" -eq 0 ] && break
    while IFS= read -r d; do next+=("$d"); done < <(deps_of "${query[@]}")
    frontier=("${next[@]+"${next[@]}"}")
done

if [ "$list_only" = 1 ]; then
    printf '%s\n' "${closure[@]}"
    exit 0
fi

# 3. Download and unpack into an emptied sysroot; the stamp is written last, so an
# interrupted run never leaves a sysroot that looks complete.
echo "arm64-sysroot.sh: unpacking into .sysroot-arm64/: ${closure[*]}"
rm -rf "$sysroot"
mkdir -p "$sysroot/.debs"
download() { (cd "$sysroot/.debs" && apt-get download -q -o APT::Sandbox::User=root "${closure[@]}"); }
if ! download; then
    # The package lists may name versions the mirror no longer has: refresh and retry.
    [ "${as_root[*]}" != false ] || exit 1
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    download
fi
for deb in "$sysroot"/.debs/*.deb; do
    dpkg -x "$deb" "$sysroot"
done

# Make absolute symlinks (libfoo.so -> /lib/aarch64-linux-gnu/libfoo.so.1) point inside
# the sysroot, relatively, so the tree can move with the work tree.
while IFS= read -r link; do
    target=$(readlink "$link")
    case "$target" in
    /*)
        rel=$(realpath -m --relative-to="$(dirname "$link")" "$sysroot$target")
        ln -sfn "$rel" "$link"
        ;;
    esac
done < <(find "$sysroot" -type l)

# GNU ld scripts that name libraries by absolute path (libbsd.so: GROUP(/usr/lib/...)):
# keep only the file name, which the linker then finds on the -L path of the cross file.
while IFS= read -r script; do
    sed -i -E 's#(GROUP|INPUT)\(/[^ )]*/#\1(#; s# /(usr/)?lib/[^ )]*/# #g' "$script"
done < <(grep -rlI --include='*.so' '^GROUP\|^INPUT' "$sysroot/usr/lib" "$sysroot/lib" 2>/dev/null || true)

{
    echo "$want"
    for deb in "$sysroot"/.debs/*.deb; do
        dpkg-deb -f "$deb" Package Version Architecture | paste -sd' '
    done
} >"$sysroot/.complete.new"
mv "$sysroot/.complete.new" "$stamp"
echo "arm64-sysroot.sh: done"
