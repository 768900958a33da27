#!/usr/bin/env bash
# What can be checked of the minimum Rust version (`rust-version` in Cargo.toml) with the one
# toolchain this machine has (run by scripts/test.sh; it is not a guest suite):
#   - every package of the lock file (all features, dev-dependencies, every platform)
#     declares a `rust-version` no newer than ours, or none;
#   - (in scripts/test.sh) clippy's `incompatible_msrv`, denied in Cargo.toml's [lints],
#     refuses std APIs stabilised after our `rust-version`.
# Neither proves that the declared version builds the crate (language features, lints,
# dependencies that declare no rust-version): only building with that toolchain would.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo metadata --format-version 1 --all-features --locked | python3 -c '
import json, sys

def version(v):
    return tuple(int(x) for x in v.split("."))

m = json.load(sys.stdin)
root = next(p for p in m["packages"] if p["id"] == m["resolve"]["root"])
ours = root["rust_version"]
if not ours:
    sys.exit("msrv.sh: Cargo.toml declares no rust-version")
newer, undeclared = [], []
for p in m["packages"]:
    if p["id"] == root["id"]:
        continue
    rv = p.get("rust_version")
    if rv is None:
        undeclared.append(p["name"])
    elif version(rv) > version(ours):
        newer.append("%s %s needs Rust %s" % (p["name"], p["version"], rv))
if newer:
    print(f"msrv.sh: dependencies newer than our rust-version {ours}:", file=sys.stderr)
    for n in sorted(newer):
        print(f"  {n}", file=sys.stderr)
    sys.exit(1)
n = len(m["packages"]) - 1
print(f"msrv: {n} dependencies, none declares a rust-version above {ours} "
      f"({len(undeclared)} declare none)")
'
