#!/usr/bin/env bash
# Installs what building and testing Hiatus needs on a fresh Debian machine, and nothing else:
# cmake and a C compiler (pingora compiles zlib-ng), pkg-config; python3 with venv for the
# feed and calendar tests, which read what the status host serves with real parsers
# (icalendar, recurring_ical_events, feedparser in target/feedcheck-venv); groff, which checks
# the manual pages (tests/it/package.rs), and dpkg-deb (scripts/package.sh). The Rust toolchain
# must be there already (rustup); Debian's own rustc is too old for the dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/need.sh cmake cc:build-essential make pkg-config python3 groff:groff-base dpkg-deb:dpkg
# tests/it/acme.rs: a local ACME server and its DNS (pebble, pebble-challtestsrv).
scripts/need.sh pebble
# tests/it/cluster.rs: several gateways over a real etcd (Debian's 3.4 server and etcdctl).
scripts/need.sh etcd:etcd-server etcdctl:etcd-client
if ! command -v cargo >/dev/null; then
  echo "bootstrap: cargo is missing; install Rust with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
# tests/it/status.rs: the feed and calendar checks (HIATUS_FEEDCHECK_VENV points elsewhere).
venv=${HIATUS_FEEDCHECK_VENV:-target/feedcheck-venv}
# tests/it/mail.rs: aiosmtpd, the SMTP sink the e-mail tests start.
packages=(icalendar recurring_ical_events feedparser aiosmtpd)
if ! "$venv/bin/python" -c "import icalendar, recurring_ical_events, feedparser, aiosmtpd" 2>/dev/null; then
  if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    # Debian splits venv (and its pip) off python3.
    echo "installing python3-venv (apt-get)" >&2
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  echo "bootstrap: installing ${packages[*]} into $venv" >&2
  "$venv/bin/pip" install -q "${packages[@]}"
fi
# tests/it/api.rs: docs/openapi.json validated by openapi-spec-validator, in the same venv.
if ! "$venv/bin/python" -c "import openapi_spec_validator" 2>/dev/null; then
  echo "bootstrap: installing openapi-spec-validator into $venv" >&2
  "$venv/bin/pip" install -q openapi-spec-validator
fi
