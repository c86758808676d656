#!/usr/bin/env bash
# The figures of issues 14 and 16 that need more cores than busy threads, prepared for a
# machine that has them (the device machine: 16 cores, no network, nothing installed).
#
#   tina-bench/ab/many_cores.sh pack [DIR]   # here: build, then copy into DIR (default
#                                            # target/many-cores) the kv server, the echo
#                                            # bench, redis-server, redis-benchmark and
#                                            # the shared libraries they need
#   tina-bench/ab/many_cores.sh run [DIR]    # there: run everything, print Markdown rows
#
# `run` needs nothing but DIR: it sets LD_LIBRARY_PATH to DIR/lib. Loopback only; every
# server it starts is stopped at the end; about 6 minutes on 16 cores.
#   1. kv (8 shards) against redis-server, redis-benchmark --threads 4, -c 200, -P 1 and
#      -P 16, 3-byte values, SET and GET, the two servers taking turns (target: kv >= 3x).
#   2. The echo bench's echo and stall parts (tokio multi-thread, the mio loop, Tina), where
#      each shard and each generator thread can have a core.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-}
DIR=${2:-target/many-cores}

pack() {
    command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
        { echo "needs redis-server and redis-benchmark (apt-get install redis-server redis-tools)" >&2; exit 1; }
    cargo build --release -q -p tina-examples --bin kv
    local bench
    bench=$(cargo bench -p tina-bench --bench echo --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    [ -x "$bench" ] || { echo "the echo bench did not build" >&2; exit 1; }
    rm -rf "$DIR"
    mkdir -p "$DIR/bin" "$DIR/lib"
    cp target/release/kv "$DIR/bin/kv"
    cp "$bench" "$DIR/bin/echo-bench"
    cp "$(command -v redis-server)" "$(command -v redis-benchmark)" "$(command -v redis-cli)" "$DIR/bin/"
    # Debug info is not needed there, and the carry is bounded (64 MiB).
    strip --strip-debug "$DIR/bin/kv" "$DIR/bin/echo-bench" 2>/dev/null || true
    # Every shared library but the C library's own (the machine has a libc).
    for binary in "$DIR"/bin/*; do
        ldd "$binary" | awk '/=> \// {print $3}'
    done | sort -u | grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
        while read -r lib; do cp -L "$lib" "$DIR/lib/"; done
    du -sh "$DIR"
}

run() {
    [ -x "$DIR/bin/kv" ] || { echo "no $DIR/bin/kv: run '$0 pack' first" >&2; exit 1; }
    export LD_LIBRARY_PATH="$PWD/$DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    local bin="$DIR/bin" pids=() port=6450
    cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
    trap cleanup EXIT
    echo "machine: $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    echo
    echo "| round | server | -P | test | requests/s | p50 ms | p99 ms |"
    echo "|---:|---|---:|---|---:|---:|---:|"
    for round in 1 2; do
        for server in kv redis; do
            port=$((port + 1))
            case $server in
                kv) "$bin/kv" --port "$port" --shards 8 --quiet >/dev/null 2>&1 & ;;
                redis) "$bin/redis-server" --port "$port" --save "" --appendonly no >/dev/null 2>&1 & ;;
            esac
            pids+=($!)
            for _ in $(seq 50); do "$bin/redis-cli" -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
            for pipeline in 1 16; do
                "$bin/redis-benchmark" -p "$port" -t set,get -n "${MANY_CORES_REQUESTS:-2000000}" -r 100000 -c 200 \
                    --threads 4 -P "$pipeline" -d 3 --csv 2>/dev/null | tail -n +2 | tr -d '"' |
                    while IFS=, read -r test rps _avg _min p50 _p95 p99 _max; do
                        echo "| $round | $server | $pipeline | $test | $rps | $p50 | $p99 |"
                    done
            done
            kill "${pids[-1]}" 2>/dev/null || true
            wait "${pids[-1]}" 2>/dev/null || true
        done
    done
    echo
    TINA_BENCH_PARTS=echo,stall "$bin/echo-bench" --bench 2>/dev/null | grep -v "^\s*$"
}

case $MODE in
    pack) pack ;;
    run) run ;;
    *) echo "usage: $0 pack|run [DIR]" >&2; exit 2 ;;
esac
