#!/usr/bin/env bash
# Builds one integration-test target and prints the path of its executable, for running it
# inside the guest: scripts/ci/test-binary.sh NAME [cargo options...]
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1
shift
out=$(cargo test --test "$name" "$@" --no-run --message-format=json)
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
printf '%s\n' "$bin"
