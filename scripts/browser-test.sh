#!/usr/bin/env bash
# The pages as a person sees them: starts the demo on free loopback ports, opens the status,
# maintenance and error pages in headless Chromium (Debian's, installed when missing), saves
# screenshots under target/screenshots/, and asserts on the rendered text (language, end time,
# state). Measures the contrast of every text against its background in light and dark colour
# schemes (scripts/contrast.py, WCAG 2.1 AA) on every built-in page. Then checks the feeds with
# real parsers (Python icalendar and feedparser).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/need.sh chromium curl
cargo build --locked --quiet
shots=target/screenshots
mkdir -p "$shots"
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
. scripts/lib.sh
gw_port=$(free_port); origin_port=$(free_port)
# The demo's nightly window (00:34-00:55 Berlin) covers every tenant; kept off `dead` here so the
# error page is what that host shows at any hour CI happens to run.
sed -e "s/^listen = .*/listen = [\"127.0.0.1:$gw_port\"]/" -e "s/127.0.0.1:18081/127.0.0.1:$origin_port/" \
    -e 's/^threads = .*/threads = 1\nadmin = "off"/' \
    -e 's/^scope = "all"$/scope = { tenants = ["app", "maint"] }/' config/hiatus.toml > "$work/hiatus.toml"
# A tenant whose maintenance has a tentative end: the pages' accent colour ("possible") shows.
cat >> "$work/hiatus.toml" <<EOF

[[tenants]]
id = "tent"
name = "Demo tenant with a tentative end"
hosts = ["tent.localhost"]
upstreams = ["127.0.0.1:$origin_port"]

[[windows]]
id = "tentative"
scope = { tenants = ["tent"] }
once = { start = "$(date -d '-1 day' +%Y-%m-%dT%H:%M)", end = "$(date -d '+2 days' +%Y-%m-%dT%H:%M)" }
tentative = true
title = { en = "Migration", de = "Migration", nb = "Migrering" }
EOF
"${CARGO_TARGET_DIR:-target}"/debug/hiatus demo --config "$work/hiatus.toml" --origin "127.0.0.1:$origin_port" > "$work/out" 2>&1 &
pid=$!
started "$work/out"

browse() { # url lang name -> rendered text on stdout, screenshot saved
  local url=$1 lang=$2 name=$3 profile
  profile=$(mktemp -d)
  local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
               --disable-component-update --disable-sync --user-data-dir="$profile" --lang="$lang"
               --accept-lang="$lang" --window-size=1000,1100 --virtual-time-budget=2000)
  timeout 60 chromium "${flags[@]}" --screenshot="$shots/$name.png" "$url" >/dev/null 2>&1 || true
  timeout 60 chromium "${flags[@]}" --dump-dom "$url" 2>/dev/null | python3 -c 'import html,re,sys; t=sys.stdin.read(); t=re.sub(r"(?s)<(script|style)[^>]*>.*?</\1>","",t); print(html.unescape(re.sub(r"<[^>]+>"," ",t)))'
  rm -rf "$profile"
}
fails=0
expect() { # name text needle...
  local name=$1 text=$2; shift 2
  for needle in "$@"; do
    if grep -qF -- "$needle" <<<"$text"; then echo "ok   $name: \"$needle\""; else echo "FAIL $name: \"$needle\" not shown"; fails=$((fails+1)); fi
  done
  [ -s "$shots/$name.png" ] && echo "     screenshot $shots/$name.png" || { echo "FAIL $name: no screenshot"; fails=$((fails+1)); }
}
text=$(browse "http://status.localhost:$gw_port/" en status-en)
expect status-en "$text" "System status" "Maintenance in progress" "Demo tenant in maintenance" "Planned maintenance (14 days)"
text=$(browse "http://maint.localhost:$gw_port/" de maintenance-de)
expect maintenance-de "$text" "Notfallwartung" "Die Datenbank wird wiederhergestellt." "Das Ende ist noch nicht bekannt." "Seit" "Januar 2025"
text=$(browse "http://maint.localhost:$gw_port/" nb maintenance-nb)
expect maintenance-nb "$text" "Nødvedlikehold" "Slutten er ikke kjent ennå."
text=$(browse "http://dead.localhost:$gw_port/" en error-en)
expect error-en "$text" "Server not reachable" "refused the connection" "Request ID"
text=$(browse "http://status.localhost:$gw_port/" de status-de)
expect status-de "$text" "Systemstatus" "Wartungsarbeiten laufen" "Geplante Wartungen (14 Tage)"
text=$(browse "http://tent.localhost:$gw_port/" en tentative-en)
expect tentative-en "$text" "Migration" "possible"

# Contrast (WCAG 2.1 AA) of every built-in page, light and dark, with the CSP in force.
python3 scripts/contrast.py "status=http://status.localhost:$gw_port/" "maintenance=http://maint.localhost:$gw_port/" \
    "tentative=http://tent.localhost:$gw_port/" "failure=http://dead.localhost:$gw_port/" \
    "unknown-host=http://nobody.localhost:$gw_port/" "not-found=http://app.localhost:$gw_port/.hiatus/nothing" \
    || fails=$((fails+1))

# The feeds, read by real parsers.
venv=target/feedcheck-venv
# bootstrap.sh makes the venv (icalendar, recurring_ical_events, feedparser) when it is missing.
"$venv/bin/python" -c "import icalendar, feedparser" 2>/dev/null || scripts/bootstrap.sh
curl -s -H "Host: status.localhost" "http://127.0.0.1:$gw_port/calendar.ics" > "$work/all.ics"
curl -s -H "Host: status.localhost" "http://127.0.0.1:$gw_port/calendar/app.ics" > "$work/app.ics"
curl -s -H "Host: status.localhost" "http://127.0.0.1:$gw_port/feed.atom" > "$work/feed.atom"
"$venv/bin/python" - "$work" <<'PY' || fails=$((fails+1))
import sys, icalendar, feedparser
work = sys.argv[1]
for name in ("all.ics", "app.ics"):
    cal = icalendar.Calendar.from_ical(open(f"{work}/{name}", "rb").read())
    events = [c for c in cal.walk("VEVENT")]
    assert events, f"{name}: no events"
    for e in events:
        assert e.get("UID") and e.get("DTSTART") and e.get("DTSTAMP"), f"{name}: incomplete event {e}"
    titles = {str(e.get("SUMMARY")) for e in events}
    print(f"ok   {name}: {len(events)} events, e.g. {sorted(titles)[:3]}")
    if name == "app.ics":
        assert "Update to version 2.0" in titles, titles
        assert "Emergency maintenance" not in titles, "another tenant's window in app's calendar"
feed = feedparser.parse(open(f"{work}/feed.atom", "rb").read())
assert not feed.bozo, f"feed.atom: {feed.bozo_exception}"
assert feed.feed.get("title") and feed.entries, "feed.atom: empty"
print(f"ok   feed.atom: {len(feed.entries)} entries, e.g. {feed.entries[0].title!r}")
PY
[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "browser test: all checks passed"
