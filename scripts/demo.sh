#!/usr/bin/env bash
# The run command of README: installs what is missing, builds, and starts the self-contained
# demo on the shipped default configuration (config/hiatus.toml). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cargo build --release --locked
exec target/release/hiatus demo --config config/hiatus.toml "$@"
