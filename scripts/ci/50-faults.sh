#!/usr/bin/env bash
# Hostile input for the drop-in ipvsadm (tests/hostile/ipvsadm.sh) in the qemu guest: bad
# options, bad addresses, values the kernel refuses and bad rule files, each of which must
# exit non-zero with a message, never panic, and leave the table as it was. On the oldest
# and the newest guest kernels (the fault tests of tests/kernel/faults.rs run with the
# kernel suite, scripts/ci/10-kernel.sh, on every kernel).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/kernels.sh
cargo build --release --example ipvsadm
on_kernels "hostile input for examples/ipvsadm" "${OLDEST_NEWEST[@]}" -- tests/hostile/ipvsadm.sh
