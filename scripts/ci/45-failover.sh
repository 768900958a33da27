#!/usr/bin/env bash
# A failover pair of DR directors (examples/lvs.rs `director dr up --sync-dev`, `up
# --standby`, `takeover`, `standby`; lvs::host::Failover) in the qemu guest: a long-lived TCP
# connection survives two switches, new connections land on the new master after each, and
# `down` restores both directors exactly (tests/failover/run.sh). On the oldest and the newest
# guest kernels.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/kernels.sh
cargo build --features mock --example lvs
built=${CARGO_TARGET_DIR:-target}/debug/examples/lvs
bin=target/failover/lvs
mkdir -p target/failover
if command -v strip >/dev/null; then
    strip -o "$bin" "$built"
else
    cp "$built" "$bin"
fi
on_kernels "failover" "${OLDEST_NEWEST[@]}" -- tests/failover/run.sh --lvs "$bin"
