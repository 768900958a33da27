#!/usr/bin/env bash
# The differential suite (tests/differential.rs): random operation sequences applied to the
# mock and to the real kernel side by side, on every guest kernel, each compared with the
# mock's profile of its own version (MockKernelBuilder::kernel). PROPTEST_CASES (passed into
# the guest) overrides the number of cases (default in the test: 500, about 10,000
# operations per kernel, 80-160 s each under TCG).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/kernels.sh
diff_bin=$(scripts/ci/test-binary.sh differential --features mock,proptest)
on_kernels "differential suite (mock vs kernel)" "${ALL_KERNELS[@]}" -- "$diff_bin" --nocapture
