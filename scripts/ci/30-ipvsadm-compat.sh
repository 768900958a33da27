#!/usr/bin/env bash
# The ipvsadm compatibility corpus (tests/ipvsadm-compat): every scenario is run with the
# reference ipvsadm and with examples/ipvsadm.rs, each in a fresh network namespace, on both
# guest kernels; stdout and exit status must be identical command by command.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --example ipvsadm
for k in 6.1 6.12; do
    echo "-- ipvsadm compatibility corpus on Linux $k (qemu guest)"
    scripts/guest/run.sh --kernel "$k" -- tests/ipvsadm-compat/run.sh
done
