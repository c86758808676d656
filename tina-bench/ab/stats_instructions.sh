#!/usr/bin/env bash
# Instructions per message (one-way) and per round trip (call/reply) of the three builds
# stats_ab.sh makes (run it first): valgrind counts instructions, not seconds, so the
# figure is the same whatever else the machine is doing. Each figure is
# (instructions of a quick run − those of a smoke run) ÷ (messages of the quick run −
# those of the smoke run), so boot and teardown cancel out.
#   one-way:     quick = warm-up + 1 round of 2,000,000; smoke = 20,000 messages
#   call/reply:  one pair (TINA_BENCH_PAIRS=1); quick = warm-up + 1 round of 200,000;
#                smoke = 2,000 round trips
set -euo pipefail
cd "$(dirname "$0")/../.."
refs() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
    awk '/I *refs:/ { gsub(",", "", $NF); print $NF }'; }
for bench in local_one_way local_call; do
    case $bench in
        local_one_way) big=4000000; small=20000 ;;
        local_call) big=400000; small=2000 ;;
    esac
    for variant in on:ab-stats-on off:ab-stats-off tracing:ab-tracing; do
        name=${variant%%:*}
        dir=${variant#*:}
        exe=$(ls -t target/$dir/release/deps/$bench-* | grep -v '\.d$' | head -1)
        quick=$(TINA_BENCH_PAIRS=1 TINA_BENCH_QUICK=1 TINA_BENCH_ONLY=tina refs "$exe" --bench --rounds 1)
        smoke=$(TINA_BENCH_PAIRS=1 TINA_BENCH_ONLY=tina refs "$exe" --rounds 1)
        python3 -c "print(f'$bench $name: {($quick - $smoke) / ($big - $small):.1f} instructions per message')"
    done
done
