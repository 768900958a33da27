#!/usr/bin/env bash
# The real-kernel suite (tests/kernel) on every guest kernel (5.10, 6.1, 6.12, 7.x), and the
# "IPVS not loaded" case in a guest booted without the IPVS modules. Every kernel runs
# whatever the others do; the failures are listed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/kernels.sh
kernel_bin=$(scripts/ci/test-binary.sh kernel --features mock)
status=0
on_kernels "kernel suite" "${ALL_KERNELS[@]}" -- "$kernel_bin" --test-threads=1 || status=1
on_kernels "IPVS not loaded (guest without ip_vs)" "${OLDEST_NEWEST[@]}" --no-ipvs -- \
    "$kernel_bin" --ignored --exact ipvs_unavailable || status=1
exit $status
