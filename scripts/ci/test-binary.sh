#!/usr/bin/env bash
# Builds one integration-test target of the guest suites and prints the path of its
# executable, for running it inside the guest:
#
#   scripts/ci/test-binary.sh NAME [cargo options...] [-- rustc options...]
#
# The suites that need a real IPVS kernel (tests/kernel, tests/differential.rs, tests/host.rs,
# tests/e2e/sync.rs) are empty unless compiled with `--cfg lvs_kernel_tests`, so that
# `cargo test --all-features` passes on a host without IPVS. This script compiles NAME with
# that cfg (through `cargo rustc`, so only the test target gets it and the dependencies are
# not rebuilt), adds the rustc options after `--` (e.g. `--cfg lvs_kernel_tests_async`), and
# fails if the binary has no test: in the guest the suites are mandatory.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1
shift
cargo_args=()
while (($#)) && [[ $1 != -- ]]; do
    cargo_args+=("$1")
    shift
done
[[ ${1:-} == -- ]] && shift
out=$(cargo rustc --test "$name" "${cargo_args[@]}" --message-format=json -- --cfg lvs_kernel_tests "$@")
bin=$(printf '%s\n' "$out" | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])
' "$name" | tail -n 1)
[[ -x $bin ]] || { echo "test-binary.sh: no executable for test $name" >&2; exit 1; }
# Listing runs no test; an empty list means the suite was compiled out.
list=$("$bin" --list --include-ignored 2>/dev/null) || list=
if ! grep -q ': test$' <<<"$list"; then
    echo "test-binary.sh: $bin has no test (was it built without --cfg lvs_kernel_tests?)" >&2
    exit 1
fi
printf '%s\n' "$bin"
