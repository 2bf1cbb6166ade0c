#!/usr/bin/env bash
# The whole test suite: set the machine up, then `cargo test --workspace`
# (unit, integration, data-driven conformance and doc tests), then one
# closing line `tests: N passed, M failed[, K skipped]` summed over every
# test binary.
#
#   scripts/test.sh [extra cargo test arguments]
#
# Tests that need root or the kernel report themselves ignored (counted as
# skipped) when they cannot run; with OXBPF_REQUIRE_PRIVILEGED=1 (set by
# .ci/run) they fail instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_system_packages
ensure_rust

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

say "cargo test --workspace --no-fail-fast $*"
set +e
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# Every test binary (libtest and libtest-mimic alike) ends with
# "test result: ok. 12 passed; 0 failed; 3 ignored; ...".
read -r passed failed ignored < <(
    grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed; [0-9]+ ignored' "$log" |
        awk '{p += $4; f += $6; i += $8} END {print p+0, f+0, i+0}'
)
echo
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # Nothing failed by count, yet cargo failed: a build error or a test
    # binary that crashed. The counts would look green, so do not print them.
    echo "error: cargo test exited $status before every test ran ($passed passed so far)"
    exit "$status"
fi
if [ "$failed" -gt 0 ]; then
    # The log is long and CI may keep only its end: repeat what each
    # failing test printed (libtest's "failures:" sections) here.
    echo "==> the failing tests' output, repeated from above:"
    awk '/^failures:$/ {on = 1} on {print} /^test result:/ {on = 0}' "$log" | head -n 400
    echo
fi
line="tests: $passed passed, $failed failed"
if [ "$ignored" -gt 0 ]; then
    line="$line, $ignored skipped"
fi
echo "$line"
exit "$status"
