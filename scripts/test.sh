#!/usr/bin/env bash
# Runs every test of the crate, on a fresh machine too:
#   1. formatting, lints (also of the guest suites, compiled with their cfg) and docs; the
#      library alone with no feature and with each feature; the MSRV checks;
#   2. the host suite: unit, integration, property and doc tests, with every feature;
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
# The guest suites are empty without --cfg lvs_kernel_tests (scripts/ci/test-binary.sh):
# lint them as the guest builds them, blocking and async (clippy's arguments reach only this
# crate's targets, so the dependencies are not checked again).
cargo clippy --all-targets --all-features -- -D warnings --cfg lvs_kernel_tests
cargo clippy --all-targets --all-features -- -D warnings --cfg lvs_kernel_tests \
    --cfg lvs_kernel_tests_async
section "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --all-features --no-deps
section "feature builds"
# The library with no feature, then with each feature alone, warnings denied (given to this
# crate alone through `cargo rustc`, so the dependencies are not rebuilt).
for feature in "" host mock serde tokio proptest; do
    echo "-- cargo check --lib --no-default-features${feature:+ --features $feature}"
    cargo rustc --quiet --lib --profile check --no-default-features ${feature:+--features "$feature"} \
        -- -D warnings
done
section "MSRV"
# clippy's incompatible_msrv (denied in Cargo.toml) ran above; the dependencies' rust-version:
scripts/ci/msrv.sh
section "host tests"
# Every feature: the tests that need one declare it (required-features in Cargo.toml); the
# guest-only suites are empty here.
cargo test --all-features

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
