#!/usr/bin/env bash
# The health checker (examples/health_check.rs) in the qemu guest: a NAT director and three
# real servers; a stopped httpd is quiesced and its traffic moves to the others, a restarted
# one gets its weight and traffic back, --remove-after deletes and re-adds, trickling and
# silent servers are quiesced within fall x interval + timeout, a configuration file checks
# two services, bad options exit 2 (tests/health/run.sh). On the oldest and the newest guest kernels.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/kernels.sh
cargo build --example health_check --features serde
bin=target/health/health_check
mkdir -p target/health
if command -v strip >/dev/null; then
    strip -o "$bin" target/debug/examples/health_check
else
    cp target/debug/examples/health_check "$bin"
fi
on_kernels "health checks" "${OLDEST_NEWEST[@]}" -- tests/health/run.sh --health-check "$bin"
