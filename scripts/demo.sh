#!/usr/bin/env bash
# The main job: set the machine up, build oxbpf, then assemble and run the
# bundled example programs and print their results.
#
#   scripts/demo.sh
#
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_system_packages
ensure_rust

say "building oxbpf"
cargo build -q -p oxbpf-cli
oxbpf() { cargo run -q -p oxbpf-cli -- "$@"; }

out=target/demo
mkdir -p "$out"

say "assembling examples/hello.s (RFC 1071 Internet checksum of the input)"
oxbpf asm examples/hello.s -o "$out/hello.bin"
oxbpf disasm "$out/hello.bin"

say "running it on examples/hello.txt ($(wc -c <examples/hello.txt) bytes: \"Hello, oxbpf!\")"
oxbpf run "$out/hello.bin" --data examples/hello.txt --repeat 1000

say "running examples/fib.s (F(50) through a bpf-to-bpf call)"
oxbpf run examples/fib.s

say "compiling bpf/examples/percpu_count.c with clang and running it on the JIT"
clang -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu \
    -c bpf/examples/percpu_count.c -o "$out/percpu_count.o"
# A 42-byte Ethernet/IPv4/UDP frame 10.0.0.1:1234 -> 10.0.0.2:53.
printf '\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x00''\x45\x00\x00\x1c\x00\x00\x00\x00\x40\x11\x00\x00\x0a\x00\x00\x01\x0a\x00\x00\x02''\x04\xd2\x00\x35\x00\x08\x00\x00' >"$out/udp.bin"
say "verifying it: oxbpf's verifier proves each access safe"
oxbpf verify "$out/percpu_count.o"
oxbpf run "$out/percpu_count.o" --data "$out/udp.bin" --engine jit --repeat 1000 --maps-out "$out/state.json"
oxbpf map dump "$out/state.json" --object "$out/percpu_count.o"

say "done"
