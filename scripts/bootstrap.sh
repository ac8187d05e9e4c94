#!/usr/bin/env bash
# Installs what building Hiatus needs on a fresh Debian machine, and nothing else:
# cmake and a C compiler (pingora compiles zlib-ng), pkg-config. The Rust toolchain must be
# there already (rustup); Debian's own rustc is too old for the dependencies.
set -euo pipefail
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v cc >/dev/null || missing+=(gcc)
command -v make >/dev/null || missing+=(make)
command -v pkg-config >/dev/null || missing+=(pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
  echo "bootstrap: cargo is missing; install Rust with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
