#!/usr/bin/env bash
# End-to-end suite in the qemu guest: examples/lvs sets up the classic NAT, TUN and DR
# clusters in network namespaces and real HTTP traffic proves them (tests/e2e/run.sh), then
# the sync daemons carry a master director's connections to a backup (tests/e2e/sync.rs).
# Both topologies (the classic addresses, and other addresses with three weighted real
# servers) and the sync demo run on the oldest and the newest guest kernels (5.10 and 7.x).
# LVS_KERNELS="5.10" (or "7") limits the run to those kernels.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/kernels.sh
cargo build --features mock --example lvs
sync_bin=$(scripts/ci/test-binary.sh e2e_sync)
# The suite runs the example dozens of times; a stripped copy loads much faster over 9p.
lvs_bin=target/e2e/lvs
mkdir -p target/e2e
if command -v strip >/dev/null; then
    strip -o "$lvs_bin" target/debug/examples/lvs
else
    cp target/debug/examples/lvs "$lvs_bin"
fi
on_kernels "end-to-end suite (seed and alt topologies, sync)" "${OLDEST_NEWEST[@]}" -- bash -c \
    'lvs=$1 sync=$2; shift 2; tests/e2e/run.sh --lvs "$lvs" "$@" && "$sync" --test-threads=1' \
    _ "$lvs_bin" "$sync_bin" --topology seed --topology alt
