#!/usr/bin/env bash
# Instructions per run (callgrind), net of the empty program, for every
# benchmark program on every engine: a metric that the load of a shared
# machine does not move. Build first:
#   cargo build --release -p oxbpf-jit --example bench_count
# Usage: scripts/bench-callgrind.sh [N] [engines...]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
shift || true
engines=${*:-jit rbpf-jit interp-fast interp-fast-checked rbpf-interp}
bin=target/release/examples/bench_count
count() {
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$$ "$bin" "$1" "$2" "$3" >/dev/null 2>&1
    awk '/^summary:/ {print $2}' /tmp/cg.$$
    rm -f /tmp/cg.$$
}
printf '%-11s' program
for e in $engines; do printf ' %20s' "$e"; done
echo
declare -A base
for e in $engines; do base[$e]=$(count "$e" empty "$n"); done
for p in arith_loop div_loop checksum bitcount branchy calls; do
    printf '%-11s' "$p"
    for e in $engines; do
        c=$(count "$e" "$p" "$n")
        printf ' %20.1f' "$(echo "($c - ${base[$e]}) / $n" | bc -l)"
    done
    echo
done
