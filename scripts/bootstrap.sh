#!/usr/bin/env bash
# Installs what building Hiatus needs on a fresh Debian machine, and nothing else:
# cmake and a C compiler (pingora compiles zlib-ng), pkg-config. The Rust toolchain must be
# there already (rustup); Debian's own rustc is too old for the dependencies.
set -euo pipefail
"$(dirname "$0")/need.sh" cmake cc:build-essential make pkg-config
if ! command -v cargo >/dev/null; then
  echo "bootstrap: cargo is missing; install Rust with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
