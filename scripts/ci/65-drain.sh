#!/usr/bin/env bash
# Graceful draining (examples/drain.rs) in the qemu guest: a NAT director and two real
# servers; a real server drained while a long-lived TCP connection is on it is quiesced,
# keeps that connection working and is deleted once it ends; with --deadline it is deleted
# on time (tests/drain/run.sh). On the oldest and the newest guest kernels.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/kernels.sh
cargo build --example drain
built=${CARGO_TARGET_DIR:-target}/debug/examples/drain
bin=target/drain/drain
mkdir -p target/drain
if command -v strip >/dev/null; then
    strip -o "$bin" "$built"
else
    cp "$built" "$bin"
fi
on_kernels "drain" "${OLDEST_NEWEST[@]}" -- tests/drain/run.sh --drain "$bin"
