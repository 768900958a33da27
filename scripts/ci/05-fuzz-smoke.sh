#!/usr/bin/env bash
# Fuzz smoke run on the host (no guest): every cargo-fuzz target (fuzz/fuzz_targets) replays
# its corpus (fuzz/corpus/<target>, kept in the repository) and then fuzzes for
# LVS_FUZZ_SECS seconds (default 25, about two minutes in all). Any crash fails the run; the
# input is left in fuzz/artifacts/<target>/.
#
# The stable toolchain is enough: libFuzzer's coverage instrumentation uses stable -C flags,
# and `-s none` leaves out the sanitizer (which would need -Z flags); `-a` turns debug
# assertions (integer overflow checks) on. cargo-fuzz is installed if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${LVS_FUZZ_SECS:-25}
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "-- installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
cd fuzz
cargo fuzz build -s none -a
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    # Fuzz into a scratch copy so that the repository's corpus stays as committed.
    scratch=$(mktemp -d)
    cp -r "corpus/$target/." "$scratch/"
    echo "-- fuzz $target for ${secs}s (corpus: $(ls "corpus/$target" | wc -l) inputs)"
    log="$scratch.log"
    status=0
    cargo fuzz run -s none -a "$target" "$scratch" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(Done|stat::number_of_executed_units|==[0-9]+==|thread .* panicked|SUMMARY)' "$log" || true
    if [ "$status" -ne 0 ]; then tail -40 "$log" >&2; fi
    rm -f "$log"
    rm -rf "$scratch"
    if [ "$status" -ne 0 ]; then
        echo "fuzz target $target failed (status $status): see fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
echo "fuzz smoke run: no crash"
