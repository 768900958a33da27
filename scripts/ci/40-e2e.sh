#!/usr/bin/env bash
# End-to-end suite in the qemu guest: examples/lvs sets up the classic NAT, TUN and DR
# clusters in network namespaces and real HTTP traffic proves them (tests/e2e/run.sh), then
# the sync daemons carry a master director's connections to a backup (tests/e2e/sync.rs).
# Linux 6.1 runs both topologies (the classic addresses, and other addresses with three
# weighted real servers); 6.12 runs the second one and the sync demo, to stay lean.
# LVS_E2E_KERNELS="6.1" (or "6.12") limits the run to those kernels.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --example lvs
sync_bin=$(scripts/ci/test-binary.sh e2e_sync --features kernel-tests)
# The suite runs the example dozens of times; a stripped copy loads much faster over 9p.
lvs_bin=target/e2e/lvs
mkdir -p target/e2e
if command -v strip >/dev/null; then
    strip -o "$lvs_bin" target/debug/examples/lvs
else
    cp target/debug/examples/lvs "$lvs_bin"
fi
for k in ${LVS_E2E_KERNELS:-6.1 6.12}; do
    topologies=(--topology seed --topology alt)
    [[ $k == 6.1 ]] || topologies=(--topology alt)
    echo "-- end-to-end suite on Linux $k (qemu guest): ${topologies[*]}"
    scripts/guest/run.sh --kernel "$k" -- bash -c \
        'lvs=$1 sync=$2; shift 2; tests/e2e/run.sh --lvs "$lvs" "$@" && "$sync" --test-threads=1' \
        _ "$lvs_bin" "$sync_bin" "${topologies[@]}"
done
