#!/usr/bin/env bash
# The real-kernel suite (tests/kernel) against the async handle: the same tests, built with
# `--cfg lvs_kernel_tests_async` (and feature tokio), so that `Netns::ipvs()` hands out `AsyncIpvs` over the tokio
# transport (behind a small blocking wrapper, tests/kernel/async_handle.rs), on the oldest and
# the newest guest kernels (about a minute each under TCG); the blocking handle runs on every
# kernel in 10-kernel.sh. The socket-level fault tests of the blocking transport
# (tests/kernel/faults.rs) are not part of this run.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/kernels.sh
kernel_bin=$(scripts/ci/test-binary.sh kernel --features mock,tokio -- --cfg lvs_kernel_tests_async)
on_kernels "kernel suite, async handle" "${OLDEST_NEWEST[@]}" -- "$kernel_bin" --test-threads=1
