#!/usr/bin/env bash
# The Prometheus exporter (examples/exporter.rs) in the qemu guest: a known table (TCP with
# traffic, UDP, IPv4 and IPv6 firewall marks, IPv6) in a NAT topology, scraped and checked
# series by series against ipvsadm -Ln (--stats --exact, --persistent-conn) and
# /proc/net/ip_vs_stats, across an ipvsadm -Z and a deleted service (tests/exporter/run.sh).
# On the oldest and the newest guest kernels.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/kernels.sh
cargo build --example exporter
target=${CARGO_TARGET_DIR:-target}
bin=$target/exporter/exporter
mkdir -p "$target/exporter"
if command -v strip >/dev/null; then
    strip -o "$bin" "$target/debug/examples/exporter"
else
    cp "$target/debug/examples/exporter" "$bin"
fi
on_kernels "exporter" "${OLDEST_NEWEST[@]}" -- tests/exporter/run.sh --exporter "$bin"
