#!/usr/bin/env bash
# The run command of README: installs what is missing, builds, and starts the self-contained
# demo on the shipped default configuration (config/hiatus.toml). Ctrl-C stops it.
#   scripts/demo.sh --tls   the same demo over HTTPS too (port 8443: scripts/demo-tls.sh makes
#                           a certificate for *.localhost and the configuration)
set -euo pipefail
cd "$(dirname "$0")/.."
config=config/hiatus.toml
if [ "${1:-}" = "--tls" ]; then
  shift
  config=target/demo-tls/hiatus.toml
  scripts/demo-tls.sh
fi
scripts/bootstrap.sh
cargo build --release --locked
exec target/release/hiatus demo --config "$config" "$@"
