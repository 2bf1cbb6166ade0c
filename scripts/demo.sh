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

say "done"
