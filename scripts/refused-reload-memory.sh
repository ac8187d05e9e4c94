#!/usr/bin/env bash
# Memory of refused reloads: runs the gateway with a configuration of TENANTS tenants (default
# 10000), then POSTs /reload over files it must refuse and prints, for each, the process's
# resident memory before, its peak during (VmHWM, reset before each reload through
# /proc/<pid>/clear_refs) and its resident memory after. Issue 15: "a rejected config can cost
# most of a gigabyte". The test `control::a_refused_reload_costs_little_memory_and_gives_it_back`
# asserts the bound for the nested and the oversized file; this script shows the numbers,
# including for files within the limits that the parser has to read before they are refused.
#
#   scripts/refused-reload-memory.sh                # the release binary (built when missing)
#   HIATUS=target/debug/hiatus TENANTS=200 scripts/refused-reload-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
hiatus=${HIATUS:-target/release/hiatus}
tenants=${TENANTS:-10000}
[ -x "$hiatus" ] || cargo build --release --locked --quiet
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

python3 - "$work" "$tenants" <<'EOF'
import sys
work, n = sys.argv[1], int(sys.argv[2])
head = '[gateway]\nlisten = ["127.0.0.1:0"]\nadmin = "127.0.0.1:0"\n\n[defaults]\nzone = "UTC"\n'
tenants = ''.join(
    f'\n[[tenants]]\nid = "t{i}"\nhosts = ["t{i}.example.com", "www.t{i}.example.com"]\n'
    f'upstreams = ["10.0.{i // 250}.{i % 250 + 1}:8080"]\n'
    for i in range(n))
good = head + tenants
files = {
    'good': good,
    # Refused before parsing: nesting, size.
    'nested-10MB': 'x = ' + '[' * 5_000_000 + ']' * 5_000_000 + '\n',
    'oversized-20MB': good + '# padding to make the file large\n' * 650_000,
    # Within the limits: parsed, then refused.
    'invalid-last-line': good + '\n[[windows]]\nid = "w"\ndaily = { at = "25:00", until = "01:00" }\n',
    'not-toml-at-the-end': good + '\n[[tenants]\n',
    'flat-arrays-9MB': head + 'x = [' + '[[1]],' * 1_500_000 + ']\n',
}
for name, text in files.items():
    open(f'{work}/{name}.toml', 'w').write(text)
EOF

cp "$work/good.toml" "$work/hiatus.toml"
"$hiatus" run --config "$work/hiatus.toml" > "$work/out" 2>&1 &
pid=$!
started "$work/out"
admin=$(announced "$work/out" admin)
[ -n "$admin" ] || { cat "$work/out"; echo "the gateway did not start"; exit 1; }
kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$pid/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "gateway: $tenants tenants ($(stat -c %s "$work/good.toml") bytes), binary $hiatus"
curl -s -o /dev/null -XPOST "http://$admin/reload"
printf '%-22s %10s %6s %10s %10s %10s\n' file bytes answer "RSS MiB" "peak MiB" "after MiB"
for name in nested-10MB oversized-20MB invalid-last-line not-toml-at-the-end flat-arrays-9MB; do
  before=$(kib VmRSS)
  echo 5 > "/proc/$pid/clear_refs"
  cp "$work/$name.toml" "$work/hiatus.toml"
  status=$(curl -s -o "$work/answer" -w '%{http_code}' -XPOST "http://$admin/reload")
  peak=$(kib VmHWM)
  after=$(kib VmRSS)
  printf '%-22s %10s %6s %10s %10s %10s\n' "$name" "$(stat -c %s "$work/$name.toml")" "$status" \
    "$(mib "$before")" "$(mib "$peak")" "$(mib "$after")"
  cp "$work/good.toml" "$work/hiatus.toml"
done
