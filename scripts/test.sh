#!/usr/bin/env bash
# Runs every test of the crate, on a fresh machine too:
#   1. formatting and lints;
#   2. the host suite: unit, integration, property and doc tests, and the fuzz target's build;
#   3. the real-kernel suite, inside qemu guests with Debian's 6.1 and 6.12 kernels
#      (scripts/guest/setup.sh installs what it needs from Debian's packages), plus the
#      "IPVS not loaded" case in a guest booted without the IPVS modules.
# Set LVS_SKIP_GUEST=1 to run only 1 and 2 (for quick local iterations; CI never sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n== %s\n' "$*"; }

section "cargo fmt --check"
cargo fmt --all -- --check
section "cargo clippy"
cargo clippy --all-targets --all-features -- -D warnings
section "host tests"
cargo test
section "fuzz targets build"
(cd fuzz && cargo build --quiet)

if [[ ${LVS_SKIP_GUEST:-0} == 1 ]]; then
    echo "LVS_SKIP_GUEST=1: the real-kernel suite was NOT run"
    exit 0
fi

section "guest setup"
scripts/guest/setup.sh --quiet
section "build the kernel suite"
kernel_bin=$(cargo test --features kernel-tests --test kernel --no-run 2>&1 |
    sed -n 's/.*Executable.*(\(.*\)).*/\1/p' | tail -n 1)
[[ -x $kernel_bin ]] || { echo "kernel suite binary not found" >&2; exit 1; }
for k in 6.1 6.12; do
    section "kernel suite on Linux $k (qemu guest)"
    scripts/guest/run.sh --kernel "$k" -- "$kernel_bin" --test-threads=1
done
section "IPVS not loaded (qemu guest without ip_vs)"
scripts/guest/run.sh --kernel 6.1 --no-ipvs -- "$kernel_bin" --ignored --exact ipvs_unavailable
