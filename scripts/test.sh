#!/usr/bin/env bash
# Runs every test of the crate: formatting and lints, the host suite (unit, integration,
# property and doc tests), and the fuzz target's build.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --all-features -- -D warnings
echo "== host tests"
cargo test --all-features
echo "== fuzz targets build"
(cd fuzz && cargo build --quiet)
