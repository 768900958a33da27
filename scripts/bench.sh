#!/usr/bin/env bash
# The guest benchmark: the library and examples/ipvsadm against Debian's ipvsadm, on the same
# real kernel, in one guest run (benches/guest.rs), printed as Markdown tables with ratios.
#
#   scripts/bench.sh [--kernel 5.10|6.1|6.12|7] [-- BENCH ARGS...]
#
# Default bench arguments: --shape 10000x4 --shape 1000x50 --runs 3 --datagrams. Run it on an otherwise
# idle machine: the guest is emulated (TCG), so other load skews the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
kernel=6.12
if [[ ${1:-} == --kernel ]]; then
    kernel=$2
    shift 2
fi
[[ ${1:-} == -- ]] && shift
args=("$@")
((${#args[@]})) || args=(--shape 10000x4 --shape 1000x50 --runs 3 --datagrams)

scripts/guest/setup.sh --quiet
cargo build --release --example ipvsadm
# With --cfg lvs_kernel_tests (given to this target alone): without it, the benchmark only says
# that it needs a real kernel.
bench=$(cargo rustc --bench guest --profile bench --message-format=json -- --cfg lvs_kernel_tests |
    python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "guest":
        print(m["executable"])
' | tail -n 1)
[[ -x $bench ]] || { echo "bench.sh: the guest benchmark did not build" >&2; exit 1; }
example="${CARGO_TARGET_DIR:-target}/release/examples/ipvsadm"
# A copy on the guest's tmpfs: running from the 9p share is slower and noisier.
# (CARGO_TARGET_DIR, when set, is shared with the guest at the same path.)
example=${CARGO_TARGET_DIR:-target}/release/examples/ipvsadm
scripts/guest/run.sh --kernel "$kernel" --mem 2048 --timeout 3600 -- bash -c '
    cp "$1" /tmp/guest-bench && cp "$2" /tmp/ipvsadm-example &&
    shift 2 && exec /tmp/guest-bench --ipvsadm-example /tmp/ipvsadm-example "$@"' _ "$bench" "$example" "${args[@]}"
