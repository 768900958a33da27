#!/usr/bin/env bash
# The health checker (examples/health_check.rs) in the qemu guest: a NAT director and three
# real servers; a stopped httpd is quiesced and its traffic moves to the others, a restarted
# one gets its weight and traffic back, and --remove-after deletes and re-adds
# (tests/health/run.sh). Linux 6.12 only, to stay lean (the example uses no kernel-specific
# feature; the library's calls are covered on both kernels by 10-kernel.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --example health_check
bin=target/health/health_check
mkdir -p target/health
if command -v strip >/dev/null; then
    strip -o "$bin" target/debug/examples/health_check
else
    cp target/debug/examples/health_check "$bin"
fi
echo "-- health checks on Linux 6.12 (qemu guest)"
scripts/guest/run.sh --kernel 6.12 -- tests/health/run.sh --health-check "$bin"
