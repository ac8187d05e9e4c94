#!/usr/bin/env bash
# Runs the gateway on loopback, sends known traffic, and has `promtool check metrics` (Debian's
# prometheus package, installed when missing) lint the /metrics exposition. Any finding fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/need.sh promtool:prometheus curl
cargo build --locked --quiet
. scripts/lib.sh
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
sed -e 's/^listen = .*/listen = ["127.0.0.1:0"]/' -e 's/^threads = .*/threads = 1\nadmin = "127.0.0.1:0"/' \
  config/hiatus.toml > "$work/hiatus.toml"
# A notification target that nobody answers (port 9: refused), so the hiatus_notify_* families
# have samples to lint.
printf '\n[[notify]]\nid = "nobody"\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook"\n' >> "$work/hiatus.toml"
"${CARGO_TARGET_DIR:-target}/debug/hiatus" run --config "$work/hiatus.toml" > "$work/out" 2>&1 &
pid=$!
started "$work/out"
gw=$(announced "$work/out" listening); admin=$(announced "$work/out" admin)
[ -n "$gw" ] && [ -n "$admin" ] || { cat "$work/out"; echo "the gateway did not announce its listeners"; exit 1; }
# Every family with samples: requests of several decisions and status classes, on both lanes,
# one with a body (bytes in).
for host in app.localhost maint.localhost dead.localhost nobody.example; do
  curl -s -o /dev/null -H "Host: $host" "http://$gw/" || true
done
curl -s -o /dev/null -H "Host: app.localhost" --data-binary 'a body' "http://$gw/upload" || true
curl -s -o /dev/null --http2-prior-knowledge -H "Host: maint.localhost" "http://$gw/" || true
# The notifier starts its targets at the ticker's first tick (a quarter second).
for _ in $(seq 1 50); do
  curl -s "http://$admin/metrics" > "$work/metrics"
  grep -q '^hiatus_notify_queued{target="nobody"}' "$work/metrics" && break
  sleep 0.1
done
grep -q '^hiatus_notify_sent_total{target="nobody"} 0' "$work/metrics" \
  || { cat "$work/metrics"; echo "the notification counters are missing"; exit 1; }
grep -q 'hiatus_requests_total{decision="maintenance",status_class="5xx",tenant="maint"} 2' "$work/metrics" \
  || { cat "$work/metrics"; echo "the maintenance requests were not counted"; exit 1; }
# HEAD: the head of a GET, no body.
head=$(curl -s -I "http://$admin/metrics")
body=$(curl -s -X HEAD --max-time 2 "http://$admin/metrics" || true)
echo "$head" | grep -qi '^content-length: [1-9]' && [ -z "$body" ] \
  || { echo "$head"; echo "HEAD /metrics: want a length and no body (got ${#body} bytes)"; exit 1; }
out=$(promtool check metrics < "$work/metrics" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then echo "$out"; exit 1; fi
echo "promtool check metrics: no findings ($(grep -c '^hiatus_' "$work/metrics") samples)"
