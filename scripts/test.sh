#!/usr/bin/env bash
# The test command of README: installs what is missing, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cargo test --all-targets --locked
