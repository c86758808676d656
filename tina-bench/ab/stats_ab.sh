#!/usr/bin/env bash
# Same-run A/B of the live statistics' cost (issue 17): the same-shard one-way and
# call/reply benchmarks built twice — as shipped, and with the per-dispatch recording
# compiled out (`--cfg tina_no_stats`) — then run alternately, ROUNDS times each, so both
# builds see the same machine noise. Prints each sample and the median ratio on/off.
#
#   bash tina-bench/ab/stats_ab.sh            # ROUNDS=5 by default
#   ROUNDS=9 bash tina-bench/ab/stats_ab.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}
build() { # $1: target dir, $2: extra rustflags
    RUSTFLAGS="${2}" CARGO_TARGET_DIR="$1" cargo bench -p tina-bench \
        --bench local_one_way --bench local_call --no-run --message-format=json 2>/dev/null |
        python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] in ("local_one_way", "local_call"):
        print(m["target"]["name"], m["executable"])'
}
echo "building (stats on) ..." >&2
ON=$(build target/ab-stats-on "")
echo "building (stats compiled out) ..." >&2
OFF=$(build target/ab-stats-off "--cfg tina_no_stats")
exe() { echo "$1" | awk -v n="$2" '$1 == n { print $2 }'; }
# One sample: the tina row's figure (millions per second) of one quick round.
sample() { # $1: executable, $2: row name
    TINA_BENCH_QUICK=1 TINA_BENCH_ONLY=tina "$1" --bench --rounds 1 2>/dev/null |
        awk -F'|' -v row="$2" 'index($2, row) { gsub(/ /, "", $3); print $3; exit }'
}
for bench in local_one_way local_call; do
    case $bench in
        local_one_way) row="tina (1 shard)" ;;
        local_call) row="tina call/reply" ;;
    esac
    on_exe=$(exe "$ON" $bench)
    off_exe=$(exe "$OFF" $bench)
    ratios=()
    for round in $(seq 1 "$ROUNDS"); do
        if (( round % 2 )); then
            on=$(sample "$on_exe" "$row"); off=$(sample "$off_exe" "$row")
        else
            off=$(sample "$off_exe" "$row"); on=$(sample "$on_exe" "$row")
        fi
        ratio=$(python3 -c "print(f'{$on / $off:.3f}')")
        ratios+=("$ratio")
        echo "$bench round $round: stats on $on M/s, compiled out $off M/s, on/off $ratio"
    done
    median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    echo "$bench: median on/off over $ROUNDS rounds = $median"
done
