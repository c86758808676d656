#!/usr/bin/env bash
# Same-run A/B of what observability costs (issue 17): the same-shard one-way and
# call/reply benchmarks built three ways —
#   on:      as shipped (live statistics on, no `tracing` feature),
#   off:     the per-dispatch statistics compiled out (`RUSTFLAGS="--cfg tina_no_stats"`),
#   tracing: as shipped plus the runtime's `tracing` feature, with no subscriber installed —
# then run in alternating order, ROUNDS quick samples each, so every build sees the same
# machine noise. Prints every sample and the median ratios on/off and tracing/on.
#
#   bash tina-bench/ab/stats_ab.sh            # ROUNDS=5 by default
#   ROUNDS=9 bash tina-bench/ab/stats_ab.sh
#   bash tina-bench/ab/stats_ab.sh --build-only   # the three builds, for stats_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}
build() { # $1: target dir, $2: rustflags, $3: extra cargo arguments
    # shellcheck disable=SC2086
    RUSTFLAGS="$2" CARGO_TARGET_DIR="$1" cargo bench -p tina-bench $3 \
        --bench local_one_way --bench local_call --no-run --message-format=json |
        python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] in ("local_one_way", "local_call"):
        print(m["target"]["name"], m["executable"])'
}
echo "building: stats on ..." >&2
ON=$(build target/ab-stats-on "" "")
echo "building: stats compiled out ..." >&2
OFF=$(build target/ab-stats-off "--cfg tina_no_stats" "")
echo "building: tracing feature, no subscriber ..." >&2
TRACING=$(build target/ab-tracing "" "--features tina-runtime/tracing")
if [ "${1:-}" = "--build-only" ]; then exit 0; fi
exe() { echo "$1" | awk -v n="$2" '$1 == n { print $2 }'; }
# One sample: the tina row's figure (millions per second) of one quick round.
sample() { # $1: executable, $2: row name
    TINA_BENCH_QUICK=1 TINA_BENCH_ONLY=tina "$1" --bench --rounds 1 2>/dev/null |
        awk -F'|' -v row="$2" 'index($2, row) { gsub(/ /, "", $3); print $3; exit }'
}
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for bench in local_one_way local_call; do
    case $bench in
        local_one_way) row="tina (1 shard)" ;;
        local_call) row="tina call/reply" ;;
    esac
    on_exe=$(exe "$ON" $bench)
    off_exe=$(exe "$OFF" $bench)
    tracing_exe=$(exe "$TRACING" $bench)
    on_off=()
    tracing_on=()
    for round in $(seq 1 "$ROUNDS"); do
        # Rotate the order so no build always runs first.
        case $(( round % 3 )) in
            1) on=$(sample "$on_exe" "$row"); off=$(sample "$off_exe" "$row"); tr=$(sample "$tracing_exe" "$row") ;;
            2) off=$(sample "$off_exe" "$row"); tr=$(sample "$tracing_exe" "$row"); on=$(sample "$on_exe" "$row") ;;
            0) tr=$(sample "$tracing_exe" "$row"); on=$(sample "$on_exe" "$row"); off=$(sample "$off_exe" "$row") ;;
        esac
        a=$(python3 -c "print(f'{$on / $off:.3f}')")
        b=$(python3 -c "print(f'{$tr / $on:.3f}')")
        on_off+=("$a")
        tracing_on+=("$b")
        echo "$bench round $round: on $on, off $off, tracing $tr (M/s); on/off $a, tracing/on $b"
    done
    echo "$bench: median over $ROUNDS rounds: on/off $(median "${on_off[@]}"), tracing/on $(median "${tracing_on[@]}")"
done
