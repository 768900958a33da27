#!/usr/bin/env bash
# Runs every test of the crate, on a fresh machine too:
#   1. formatting and lints;
#   2. the host suite: unit, integration, property and doc tests;
#   3. the guest suites (scripts/ci/NN-*.sh): the real-kernel suite and every other test that
#      needs a real IPVS kernel, in qemu guests with Debian's 5.10, 6.1, 6.12 and 7.x kernels
#      (scripts/guest/setup.sh installs what they need from Debian's packages).
# Set LVS_SKIP_GUEST=1 to run only 1 and 2 (for quick local iterations; CI never sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n== %s\n' "$*"; }

section "cargo fmt --check"
cargo fmt --all -- --check
section "cargo clippy"
cargo clippy --all-targets --all-features -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --all-features --no-deps
section "host tests"
cargo test

if [[ ${LVS_SKIP_GUEST:-0} == 1 ]]; then
    echo "LVS_SKIP_GUEST=1: the real-kernel suite was NOT run"
    exit 0
fi

section "guest setup"
scripts/guest/setup.sh --quiet
# Every guest suite is a script in scripts/ci/, run in name order; each builds what it needs
# and runs it in the guest on the kernels it covers.
failed=()
for suite in scripts/ci/[0-9]*.sh; do
    section "guest suite $(basename "$suite" .sh)"
    start=$SECONDS
    if ! "$suite"; then
        failed+=("$(basename "$suite" .sh)")
    fi
    echo "-- $(basename "$suite" .sh): $((SECONDS - start)) s"
done
if ((${#failed[@]})); then
    echo "FAILED guest suites: ${failed[*]}" >&2
    exit 1
fi
echo "all guest suites passed ($SECONDS s in all)"
