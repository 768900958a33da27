#!/usr/bin/env bash
# Hostile input for the drop-in ipvsadm (tests/hostile/ipvsadm.sh) in the qemu guest: bad
# options, bad addresses, values the kernel refuses and bad rule files, each of which must
# exit non-zero with a message, never panic, and leave the table as it was. Linux 6.1 only,
# to stay lean (the fault tests of tests/kernel/faults.rs run with the kernel suite,
# scripts/ci/10-kernel.sh, on both kernels).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --example ipvsadm
echo "-- hostile input for examples/ipvsadm on Linux 6.1 (qemu guest)"
scripts/guest/run.sh --kernel 6.1 -- tests/hostile/ipvsadm.sh
