#!/usr/bin/env bash
# The real-kernel suite (tests/kernel) on both guest kernels, and the "IPVS not loaded" case
# in a guest booted without the IPVS modules.
set -euo pipefail
cd "$(dirname "$0")/../.."
kernel_bin=$(scripts/ci/test-binary.sh kernel --features kernel-tests)
for k in 6.1 6.12; do
    echo "-- kernel suite on Linux $k (qemu guest)"
    scripts/guest/run.sh --kernel "$k" -- "$kernel_bin" --test-threads=1
done
echo "-- IPVS not loaded (qemu guest without ip_vs)"
scripts/guest/run.sh --kernel 6.1 --no-ipvs -- "$kernel_bin" --ignored --exact ipvs_unavailable
