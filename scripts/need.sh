#!/usr/bin/env bash
# Installs the Debian packages of the commands that are missing, in one apt-get run:
#   scripts/need.sh COMMAND[:PACKAGE] ...   (the package is named after the command unless given)
set -euo pipefail
missing=()
for want in "$@"; do
  command -v "${want%%:*}" >/dev/null || missing+=("${want#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} (apt-get)" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
