#!/usr/bin/env bash
# End-to-end suite in the qemu guest (Linux 6.1): examples/lvs sets up the classic NAT, TUN
# and DR clusters in network namespaces and real HTTP traffic proves them (tests/e2e/run.sh),
# then the sync daemons carry a master director's connections to a backup (tests/e2e/sync.rs).
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
echo "-- end-to-end suite on Linux 6.1 (qemu guest)"
scripts/guest/run.sh --kernel 6.1 -- bash -c \
    'tests/e2e/run.sh --lvs "$1" && "$2" --test-threads=1' _ "$lvs_bin" "$sync_bin"
