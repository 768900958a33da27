#!/usr/bin/env bash
# Hostile input in the qemu guest, on the oldest and the newest guest kernels (tests/host.rs
# on all four):
# - for the drop-in ipvsadm (tests/hostile/ipvsadm.sh): bad options, bad addresses, values
#   the kernel refuses and bad rule files, each of which must exit non-zero with a message,
#   never panic, and leave the table as it was;
# - for the host changes of examples/lvs.rs and the arguments of every example
#   (tests/hostile/lvs-host.sh): concurrent runs, kill -9 at random points, planted journal
#   records and symlinks, bad modes and owners, torn journals, non-UTF-8 and out-of-range
#   arguments; every case leaves the namespace as it was or refuses with a message.
# - for lvs::host itself (tests/host.rs, on all four kernels: which IPVS sysctls exist is a
#   fact about each version): each step in a namespace, idempotence, exact undo, the journal
#   written ahead and undone after a drop without undo, conflicts reported, the IPVS sysctls
#   set, read back, refused out of range and undone.
# (The fault tests of tests/kernel/faults.rs run with the kernel suite on every kernel.)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/kernels.sh
cargo build --release --example ipvsadm
cargo build --features mock,serde --examples
# The host script runs the examples hundreds of times: stripped copies load faster over 9p.
bin=target/hostile
mkdir -p "$bin"
for e in lvs ipvsadm health_check table; do
    if command -v strip >/dev/null; then
        strip -o "$bin/$e" "target/debug/examples/$e"
    else
        cp "target/debug/examples/$e" "$bin/$e"
    fi
done
host_bin=$(scripts/ci/test-binary.sh host)
status=0
on_kernels "lvs::host in namespaces (tests/host.rs)" "${ALL_KERNELS[@]}" -- "$host_bin" --test-threads=1 || status=1
on_kernels "hostile input for examples/ipvsadm" "${OLDEST_NEWEST[@]}" -- tests/hostile/ipvsadm.sh || status=1
on_kernels "hostile host changes and arguments (examples/lvs.rs ...)" "${OLDEST_NEWEST[@]}" -- \
    tests/hostile/lvs-host.sh --bin-dir "$bin" || status=1
exit $status
