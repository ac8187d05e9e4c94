#!/usr/bin/env bash
# A zero-downtime upgrade under load (README, "Lifecycle"), as an operator runs it: the demo
# origin and `hiatus run` on free loopback ports with the admin listener on a fixed port (as in
# production), wrk driving 32 keep-alive connections for a bounded time; one second in, a new
# `hiatus run -u` starts and the running process gets SIGQUIT. A TLS listener (a self-signed
# certificate for app.localhost made with openssl) is under load too, with 8 more connections.
# Passes when neither wrk saw a socket error (connect, read, write, timeout) or an answer other
# than 2xx, the old process has exited, and the new one answers on the gateway (plain and TLS)
# and the admin listener. Installs wrk when missing. Binaries from CARGO_TARGET_DIR when set.
#
#   scripts/upgrade-under-load.sh [SECONDS]     (default 9: the old process keeps accepting for
#                                               5 s after the hand-over, then drains)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-9}
scripts/need.sh wrk curl openssl
cargo build --locked --quiet
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${new:-}" ] && kill "$new" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. scripts/lib.sh
gw_port=$(free_port); admin_port=$(free_port); origin_port=$(free_port); tls_port=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=app.localhost \
  -addext "subjectAltName=DNS:app.localhost" -keyout "$work/app.key" -out "$work/app.pem" 2>/dev/null
# The demo configuration with this run's ports; its nightly window kept off the tenant under
# load, so that the answers are the origin's at any hour.
sed -e "s/^listen = .*/listen = [\"127.0.0.1:$gw_port\"]\nlisten_tls = [\"127.0.0.1:$tls_port\"]\nadmin = \"127.0.0.1:$admin_port\"/" \
    -e "s/127.0.0.1:18081/127.0.0.1:$origin_port/" \
    -e 's/^scope = "all"$/scope = { tenants = ["maint"] }/' config/hiatus.toml > "$work/hiatus.toml"
printf '\n[[certificates]]\ndefault = true\ncert = "app.pem"\nkey = "app.key"\n' >> "$work/hiatus.toml"
bin=${CARGO_TARGET_DIR:-target}/debug/hiatus
tls_url="https://app.localhost:$tls_port/"
tls_curl() { curl -sf -o /dev/null --cacert "$work/app.pem" --resolve "app.localhost:$tls_port:127.0.0.1" "$tls_url"; }
$bin origin --listen "127.0.0.1:$origin_port" > "$work/origin.out" 2>&1 &
pids+=($!)
$bin run --config "$work/hiatus.toml" --upgrade-sock "$work/upgrade.sock" > "$work/old.out" 2>&1 &
old=$!
pids+=("$old")
started "$work/old.out"
curl -sf -o /dev/null -H "Host: app.localhost" "http://127.0.0.1:$gw_port/" \
  || { echo "the tenant under load does not answer 200 before the upgrade"; exit 1; }
tls_curl || { echo "the tenant does not answer 200 over TLS before the upgrade"; exit 1; }

timeout $((seconds + 30)) wrk -t1 -c32 -d"${seconds}s" --timeout 5s -H "Host: app.localhost" \
  "http://127.0.0.1:$gw_port/" > "$work/wrk.out" 2>&1 &
load=$!
# wrk does not check the certificate; it names the host by the Host field.
timeout $((seconds + 30)) wrk -t1 -c8 -d"${seconds}s" --timeout 5s -H "Host: app.localhost" \
  "https://127.0.0.1:$tls_port/" > "$work/wrk-tls.out" 2>&1 &
load_tls=$!
sleep 1
$bin run --config "$work/hiatus.toml" --upgrade-sock "$work/upgrade.sock" -u > "$work/new.out" 2>&1 &
new=$!
# The new process waits on the upgrade socket for the listeners; then the old one hands over.
for _ in $(seq 1 50); do [ -S "$work/upgrade.sock" ] && break; sleep 0.1; done
kill -QUIT "$old"
wait "$load" || { cat "$work/wrk.out"; echo "wrk failed"; exit 1; }
wait "$load_tls" || { cat "$work/wrk-tls.out"; echo "wrk (TLS) failed"; exit 1; }
cat "$work/wrk.out" "$work/wrk-tls.out"

fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk.out")
[ "${requests:-0}" -gt 0 ] || fail "no requests were made"
grep -q "Socket errors" "$work/wrk.out" && fail "socket errors: $(grep 'Socket errors' "$work/wrk.out")"
grep -q "Non-2xx" "$work/wrk.out" && fail "$(grep 'Non-2xx' "$work/wrk.out")"
tls_requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk-tls.out")
[ "${tls_requests:-0}" -gt 0 ] || fail "no requests were made over TLS"
grep -q "Socket errors" "$work/wrk-tls.out" && fail "TLS socket errors: $(grep 'Socket errors' "$work/wrk-tls.out")"
grep -q "Non-2xx" "$work/wrk-tls.out" && fail "TLS: $(grep 'Non-2xx' "$work/wrk-tls.out")"
# The old process leaves once drained (bounded); the new one serves both listeners.
for _ in $(seq 1 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
kill -0 "$old" 2>/dev/null && fail "the old process is still running"
grep -q "stopped: every connection finished" "$work/old.out" || fail "the old process did not drain: $(cat "$work/old.out")"
curl -sf -o /dev/null -H "Host: app.localhost" "http://127.0.0.1:$gw_port/" || fail "the gateway does not answer after the upgrade"
tls_curl || fail "the gateway does not answer over TLS after the upgrade"
curl -sf -o /dev/null "http://127.0.0.1:$admin_port/healthz" || fail "the admin listener does not answer after the upgrade"
kill -0 "$new" 2>/dev/null || fail "the new process is not running: $(cat "$work/new.out")"
if [ "$fails" -gt 0 ]; then
  echo "upgrade under load: $fails check(s) failed"
  exit 1
fi
echo "upgrade under load: $requests requests, $tls_requests over TLS, 0 errors, 0 refused; the new process serves every listener"
