#!/usr/bin/env bash
# The HTTPS demo's files (`scripts/demo.sh --tls`), in target/demo-tls/ (or $1):
#   ca.pem, localhost.pem, localhost.key  a local CA and a leaf for localhost, *.localhost and
#                                         the demo's hosts, signed by it, ECDSA P-256; a client trusts ca.pem
#                                         (`curl --cacert target/demo-tls/ca.pem https://app.localhost:8443/`);
#                                         nothing is installed system-wide
#   hiatus.toml                           config/hiatus.toml with a TLS listener on 127.0.0.1:8443
#                                         and that certificate as the default
# The certificate is kept while it is valid for another day. A CA and a leaf rather than one
# self-signed leaf: rustls (and so a verifying client of Rust) refuses a CA certificate used as
# the server's own. The configuration is made anew from config/hiatus.toml at every call.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/demo-tls}
valid() { [ -f "$out/localhost.pem" ] && openssl x509 -checkend 86400 -noout -in "$out/localhost.pem" >/dev/null 2>&1; }
scripts/need.sh openssl
# `*.localhost` covers any name for OpenSSL clients (curl); rustls and browsers refuse a
# wildcard directly under a top-level name, so the demo's own hosts are named one by one too.
names=$(grep -o '"[a-z0-9.-]*\.localhost"' config/hiatus.toml | tr -d '"' | sort -u | sed 's/^/DNS:/' | paste -sd, -)
if ! valid || ! openssl x509 -noout -ext subjectAltName -in "$out/localhost.pem" 2>/dev/null | grep -q "${names##*:}"; then
  mkdir -p "$(dirname "$out")"
  work=$(mktemp -d "$(dirname "$out")/.demo-tls.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
    -subj "/CN=Hiatus demo CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$work/localhost.key" -out "$work/localhost.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,DNS:*.localhost,%s,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' "$names" >"$work/ext.cnf"
  openssl x509 -req -in "$work/localhost.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -days 90 -extfile "$work/ext.cnf" -out "$work/localhost.pem" 2>/dev/null
  # The CA's key goes: nothing else is ever signed with it.
  rm -f "$work/localhost.csr" "$work/ext.cnf" "$work/ca.srl" "$work/ca.key"
  chmod 600 "$work/localhost.key"
  rm -rf "$out"
  mv -T "$work" "$out"
  trap - EXIT
  echo "demo-tls: $out/localhost.pem (localhost, *.localhost), trusted through $out/ca.pem" >&2
fi
sed -e 's/^listen = .*/&\nlisten_tls = ["127.0.0.1:8443"]/' config/hiatus.toml >"$out/hiatus.toml.tmp"
cat >>"$out/hiatus.toml.tmp" <<'TOML'

# Added by scripts/demo-tls.sh: the certificate beside this file, for every name.
[[certificates]]
default = true
cert = "localhost.pem"
key = "localhost.key"
TOML
mv "$out/hiatus.toml.tmp" "$out/hiatus.toml"
