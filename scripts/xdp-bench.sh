#!/usr/bin/env bash
# Userspace XDP against the kernel: builds oxbpf (release) and the three
# benchmark programs, then runs `oxbpf xdp bench` (needs root: it creates
# and removes its own network namespaces).
#
#   scripts/xdp-bench.sh [extra oxbpf xdp bench arguments, e.g. --duration 10]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
ensure_system_packages
ensure_rust
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for src in bpf/bench/xdp_drop.c bpf/bench/xdp_count.c bpf/examples/xdp_tx.c; do
    clang -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu \
        -c "$src" -o "$out/$(basename "${src%.c}").o"
done
cargo build --release -p oxbpf-cli
target/release/oxbpf xdp bench "$out/xdp_drop.o" "$out/xdp_count.o" "$out/xdp_tx.o" "$@"
