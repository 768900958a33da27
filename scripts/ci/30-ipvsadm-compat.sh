#!/usr/bin/env bash
# The ipvsadm compatibility corpus (tests/ipvsadm-compat): every scenario is run with the
# reference ipvsadm and with examples/ipvsadm.rs, each in a fresh network namespace, on the
# oldest and the newest guest kernels; stdout and exit status must be identical command by
# command.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/ci/kernels.sh
cargo build --release --example ipvsadm
status=0
on_kernels "ipvsadm compatibility corpus" "${OLDEST_NEWEST[@]}" -- tests/ipvsadm-compat/run.sh || status=1
on_kernels "-R roll back (bad line, late refusal, flushed weight, SIGINT)" "${OLDEST_NEWEST[@]}" -- \
    tests/ipvsadm-compat/restore-rollback.sh || status=1
exit $status
