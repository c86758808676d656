#!/usr/bin/env bash
# kv (2 shards) against redis-server and tokio's mini-redis, one redis-benchmark client,
# the servers alternating in one run (issue 16). Prints one Markdown table row per run.
#
#   tina-bench/ab/kv_vs_redis.sh [rounds (default 2)] [requests per test (default 200000)]
#
# Needs redis-server and redis-benchmark (apt-get install redis-server redis-tools);
# mini-redis is measured when `mini-redis-server` is on PATH or in MINI_REDIS
# (cargo install mini-redis --root /tmp/mini-redis). Loopback only; every server is
# stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-2}
REQUESTS=${2:-200000}
MINI=${MINI_REDIS:-$(command -v mini-redis-server || echo /tmp/mini-redis/bin/mini-redis-server)}

cargo build --release -q -p tina-examples --bin kv
KV=target/release/kv

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

start() { # name port
    case $1 in
        kv) "$KV" --port "$2" --quiet >/dev/null 2>&1 & ;;
        redis) redis-server --port "$2" --save "" --appendonly no --daemonize no >/dev/null 2>&1 & ;;
        mini-redis) "$MINI" --port "$2" >/dev/null 2>&1 & ;;
    esac
    pids+=($!)
    for _ in $(seq 50); do redis-cli -p "$2" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "$1 did not start" >&2; return 1
}

servers=(kv redis)
[ -x "$MINI" ] && servers+=(mini-redis)

echo "| round | server | -P | -d | test | requests/s | p50 ms | p99 ms |"
echo "|---:|---|---:|---:|---|---:|---:|---:|"
port=6400
for round in $(seq "$ROUNDS"); do
    for server in "${servers[@]}"; do
        port=$((port + 1))
        start "$server" "$port"
        for pipeline in 1 16; do
            for size in 3 1024; do
                n=$REQUESTS
                # mini-redis serves a pipeline one command at a time: a tenth of the
                # requests keeps its runs to seconds.
                [ "$server" = mini-redis ] && [ "$pipeline" = 16 ] && n=$((REQUESTS / 10))
                redis-benchmark -p "$port" -t set,get -n "$n" -r 100000 -c 50 \
                    -P "$pipeline" -d "$size" --csv 2>/dev/null |
                    tail -n +2 | tr -d '"' |
                    while IFS=, read -r test rps _avg _min p50 _p95 p99 _max; do
                        echo "| $round | $server | $pipeline | $size | $test | $rps | $p50 | $p99 |"
                    done
            done
        done
        kill "${pids[-1]}" 2>/dev/null || true
        wait "${pids[-1]}" 2>/dev/null || true
    done
done
