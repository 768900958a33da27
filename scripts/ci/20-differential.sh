#!/usr/bin/env bash
# The differential suite (tests/differential.rs): random operation sequences applied to the
# mock and to the real kernel side by side, on both guest kernels. PROPTEST_CASES (passed
# into the guest) overrides the number of cases (default in the test: 500, about 10,000
# operations per kernel, 80-160 s each under TCG).
set -euo pipefail
cd "$(dirname "$0")/../.."
diff_bin=$(scripts/ci/test-binary.sh differential --features kernel-tests,mock)
for k in 6.1 6.12; do
    echo "-- differential suite (mock vs kernel) on Linux $k (qemu guest)"
    scripts/guest/run.sh --kernel "$k" -- "$diff_bin" --nocapture
done
