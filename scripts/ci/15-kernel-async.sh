#!/usr/bin/env bash
# The real-kernel suite (tests/kernel) against the async handle: the same tests, built with
# feature kernel-tests-async, so that `Netns::ipvs()` hands out `AsyncIpvs` over the tokio
# transport (behind a small blocking wrapper, tests/kernel/async_handle.rs). Linux 6.12 only
# (about 2 minutes under TCG); the blocking handle runs on both kernels in 10-kernel.sh.
# The socket-level fault tests of the blocking transport (tests/kernel/faults.rs) are not
# part of this run.
set -euo pipefail
cd "$(dirname "$0")/../.."
kernel_bin=$(scripts/ci/test-binary.sh kernel --features kernel-tests-async)
echo "-- kernel suite on Linux 6.12 (qemu guest), async handle"
scripts/guest/run.sh --kernel 6.12 -- "$kernel_bin" --test-threads=1
