#!/usr/bin/env bash
# Load benchmark: Hiatus against nginx, HAProxy and Caddy on loopback, one command (README,
# "## Load benchmark"). Installs what is missing (apt-get), builds Hiatus, starts an origin (nginx)
# pinned to one core and each proxy under test (one worker/thread) pinned to the other, drives it
# with wrk (HTTP/1.1), h2load (h2c) and ws-bench (WebSocket echo: origin and client, built with
# Hiatus), and over TLS (scenarios tls, h2tls, hsfull, hsresume: wrk and h2load over https,
# openssl s_time for handshakes; an ECDSA P-256 certificate made here; TLS 1.3, X25519,
# AES-128-GCM), and prints a markdown table of medians over the rounds with
# ratios against nginx (also written to benches/load/results.md). Everything it starts is stopped
# on exit, also on failure or Ctrl-C. Only 127.0.0.1 is used; every load run is bounded in time.
# Binaries are taken from $CARGO_TARGET_DIR when it is set (else target/).
#
#   benches/load/run.sh [--quick] [--duration S] [--rounds N] [--connections N]
#                       [--scenarios a,b] [--proxies a,b] [--no-build] [--no-install]
#                       [--no-reload] [--out FILE] [--keep]
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

DURATION=7            # seconds per run: 16 scenarios x 5 proxies x 3 rounds: about 40 minutes
ROUNDS=3
CONNS=32
QUICK=0
BUILD=1
INSTALL=1
RELOAD=1
KEEP=0
OUT="$HERE/results.md"
ALL_SCENARIOS="small sched 64k maint status maintgz statusgz refused 10k h1 h2c post1k chunked16k upload1m download1m maintpost refusedpost http10 h2cm10 ws tls h2tls hsfull hsresume"
ALL_PROXIES="nginx haproxy caddy pingora hiatus"
SCENARIOS=$ALL_SCENARIOS
PROXIES=$ALL_PROXIES

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; DURATION=3 ;;
    --duration) DURATION=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --connections) CONNS=$2; shift ;;
    --scenarios) SCENARIOS=${2//,/ }; shift ;;
    --proxies) PROXIES=${2//,/ }; shift ;;
    --no-build) BUILD=0 ;;
    --no-install) INSTALL=0 ;;
    --no-reload) RELOAD=0 ;;
    --out) OUT=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; usage 2 ;;
  esac
  shift
done
case "$DURATION$ROUNDS$CONNS" in *[!0-9]*) echo "run.sh: --duration/--rounds/--connections take integers" >&2; exit 2 ;; esac
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 120 ] || { echo "run.sh: --duration must be 1..120 s" >&2; exit 2; }
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 10 ] || { echo "run.sh: --rounds must be 1..10" >&2; exit 2; }

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- install and build
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
CADDY_NA=""
if [ "$INSTALL" = 1 ]; then
  missing=()
  command -v nginx >/dev/null || missing+=(nginx)
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v h2load >/dev/null || missing+=(nghttp2-client)
  command -v curl >/dev/null || missing+=(curl)
  command -v taskset >/dev/null || missing+=(util-linux)
  command -v openssl >/dev/null || missing+=(openssl)
  if ! command -v caddy >/dev/null; then
    cand=$(apt-cache policy caddy 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -n "$cand" ] && [ "$cand" != "(none)" ]; then missing+=(caddy); else CADDY_NA="no Debian package"; fi
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} (apt-get)"
    $SUDO apt-get update -qq
    # on a systemd machine the packaged services may start; the benchmark runs its own instances
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
command -v caddy >/dev/null || CADDY_NA=${CADDY_NA:-"not installed"}
for t in nginx haproxy wrk h2load curl taskset openssl; do
  command -v "$t" >/dev/null || { echo "run.sh: $t is missing (run without --no-install)" >&2; exit 1; }
done
if [ "$BUILD" = 1 ]; then
  command -v cargo >/dev/null || { echo "run.sh: cargo is missing (see scripts/bootstrap.sh)" >&2; exit 1; }
  "$ROOT/scripts/bootstrap.sh"
  log "cargo build --release --locked (hiatus, the plain Pingora baseline, the WebSocket bench)"
  (cd "$ROOT" && cargo build --release --locked --bin hiatus --example plain-pingora --example ws-bench)
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}              # where cargo put the binaries
HIATUS="$TARGET/release/hiatus"
PLAIN="$TARGET/release/examples/plain-pingora"        # benches/load/plain_pingora.rs
WSB="$TARGET/release/examples/ws-bench"               # benches/load/ws_bench.rs: echo origin and client
# the source the binary was built from (taken now: the tree may change during the run)
HIATUS_REV="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
if [ -n "$(cd "$ROOT" && git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]; then HIATUS_REV="$HIATUS_REV + uncommitted changes"; fi
[ "$BUILD" = 1 ] || HIATUS_REV="$HIATUS_REV (binary not rebuilt: --no-build)"
[ -x "$HIATUS" ] || { echo "run.sh: $HIATUS is missing (run without --no-build)" >&2; exit 1; }
[ -x "$PLAIN" ] || { echo "run.sh: $PLAIN is missing (run without --no-build)" >&2; exit 1; }
[ -x "$WSB" ] || { echo "run.sh: $WSB is missing (run without --no-build)" >&2; exit 1; }

# ---------------------------------------------------------------- processes, cleanup
WORK=$(mktemp -d /tmp/hiatus-load.XXXXXX)
chmod 755 "$WORK"          # nginx workers may run as nobody
mkdir -p "$WORK/tmp" "$WORK/www" "$WORK/pages" "$WORK/conf"
STARTED=()                 # every pid this script started

kill_pid() {               # kill_pid PID [first signal]: that signal, then KILL after 3 s
  local pid=$1 sig=${2:-TERM} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${STARTED[@]}"; do kill_pid "$pid" TERM; done
  if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then log "work files kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then LOAD_CPU=0; PROXY_CPU=1; else LOAD_CPU=0; PROXY_CPU=0; log "one core only: no separation"; fi
PIN_LOAD=(taskset -c "$LOAD_CPU")
PIN_PROXY=(taskset -c "$PROXY_CPU")

LAST_PID=""
start_bg() {               # start_bg NAME CPU CMD...: starts CMD pinned to CPU, sets LAST_PID
  local name=$1 cpu=$2; shift 2
  taskset -c "$cpu" "$@" >"$WORK/$name.log" 2>&1 &
  LAST_PID=$!
  STARTED+=("$LAST_PID")
}
stop_started() {           # stop_started PID SIGNAL
  local pid=$1 sig=$2 keep=() p
  kill_pid "$pid" "$sig"
  for p in "${STARTED[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  STARTED=("${keep[@]+"${keep[@]}"}")
}

ALLOCATED=" "
# listening ports come from below the ephemeral range: client sockets (wrk, upstream connections)
# take ports from that range and would make a later bind on the same port fail
EPH_LOW=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
PORT_LOW=10000; [ "$EPH_LOW" -gt 12000 ] || PORT_LOW=$((EPH_LOW / 2))
free_port() {              # a free loopback TCP port, never handed out twice
  local used p
  used=" $(ss -Htan 2>/dev/null | awk '{n=split($4,a,":"); printf "%s ", a[n]}') "
  while :; do
    p=$((PORT_LOW + RANDOM % (EPH_LOW - PORT_LOW)))
    case "$used$ALLOCATED" in *" $p "*) continue ;; esac
    ALLOCATED="$ALLOCATED$p "
    echo "$p"; return
  done
}
# not command substitution: ALLOCATED must survive
alloc() { local v; for v in "$@"; do free_port >"$WORK/port"; printf -v "$v" '%s' "$(cat "$WORK/port")"; done; }

tree_pids() {              # the pid and all its descendants
  local p=$1 c
  echo "$p"
  for c in $(pgrep -P "$p" 2>/dev/null || true); do tree_pids "$c"; done
}
cpu_ticks() {              # utime+stime (clock ticks) summed over the given pids
  local t=0 p v
  for p in "$@"; do
    v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || v=0
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
hwm_kb() {                 # VmHWM (kB) summed over the given pids
  local t=0 p v
  for p in "$@"; do
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null) || v=0
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
CLK_TCK=$(getconf CLK_TCK)

render() {                 # render TEMPLATE OUT: @NAME@ -> value of $NAME for the names used
  local src=$1 dst=$2 expr=() n
  for n in WORK ORIGIN_PORT DEAD_PORT PASS_PORT H2_PORT MAINT_PORT REFUSED_PORT MANY_PORT WS_PORT WS_ORIGIN_PORT ADMIN \
           TLS_PORT NGX_CACHE NGX_TICKETS HA_CACHE HA_TICKETS; do
    expr+=(-e "s#@$n@#${!n:-}#g")
  done
  sed "${expr[@]}" "$src" >"$dst"
}

probe() {                  # probe PORT HOST PATH [h2|tls]: the status code (000 when nothing answers)
  local opt=() scheme=http
  case ${4:-} in
    h2) opt=(--http2-prior-knowledge) ;;
    tls) opt=(-k); scheme=https ;;     # the benchmark's own self-signed certificate
  esac
  curl "${opt[@]}" -s -o /dev/null -w '%{http_code}' --max-time 2 -H "Host: $2" -H 'Accept:' -H 'User-Agent:' \
    "$scheme://127.0.0.1:$1$3" 2>/dev/null || true
}
wait_status() {            # wait_status PID PORT HOST PATH WANT TIMEOUT_S [h2|tls]
  local pid=$1 port=$2 host=$3 path=$4 want=$5 end=$((SECONDS + $6)) got="" proto=${7:-}
  while [ $SECONDS -lt $end ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    got=$(probe "$port" "$host" "$path" "$proto")
    [ "$got" = "$want" ] && return 0
    sleep 0.2
  done
  log "port $port host $host: status $got, want $want"
  return 1
}

# ---------------------------------------------------------------- shared set-up
TENANTS=10000
STIME_CLIENTS=4            # openssl s_time processes side by side in the handshake rows
alloc ORIGIN_PORT DEAD_PORT
head -c 65536 /dev/urandom >"$WORK/www/64k"
head -c 1048576 /dev/urandom >"$WORK/www/1m"
render "$HERE/origin.nginx.conf" "$WORK/conf/origin.conf"
start_bg origin "$LOAD_CPU" nginx -p "$WORK" -c "$WORK/conf/origin.conf"
ORIGIN_PID=$LAST_PID
wait_status "$ORIGIN_PID" "$ORIGIN_PORT" origin / 200 10 || { cat "$WORK/origin.log" >&2; exit 1; }
# the WebSocket row's origin: an echo (nginx has none), one thread, on the origin's core too
alloc WS_ORIGIN_PORT
start_bg ws-origin "$LOAD_CPU" "$WSB" origin --listen "127.0.0.1:$WS_ORIGIN_PORT"
wait_status "$LAST_PID" "$WS_ORIGIN_PORT" origin / 200 10 || { cat "$WORK/ws-origin.log" >&2; exit 1; }
log "origin on 127.0.0.1:$ORIGIN_PORT, WebSocket echo origin on 127.0.0.1:$WS_ORIGIN_PORT (cpu $LOAD_CPU); load generator on cpu $LOAD_CPU; proxies on cpu $PROXY_CPU"

# TLS rows: one ECDSA P-256 leaf (self-signed) for every proxy; HAProxy wants cert and key in one
# file. The load generators' OpenSSL is held to TLS 1.3, X25519 and TLS_AES_128_GCM_SHA256 by a
# configuration of their own (OPENSSL_CONF, given to the clients only): wrk has no options for it,
# and Hiatus (rustls) follows the client's order, where nginx and HAProxy are configured to it.
mkdir -p "$WORK/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" -subj /CN=bench.localhost \
  -addext "subjectAltName=DNS:bench.localhost,DNS:localhost" 2>"$WORK/tls/openssl.log" \
  || { cat "$WORK/tls/openssl.log" >&2; exit 1; }
cat "$WORK/tls/cert.pem" "$WORK/tls/key.pem" >"$WORK/tls/haproxy.pem"
cat >"$WORK/tls/client.cnf" <<'CNF'
openssl_conf = init
[init]
ssl_conf = ssl
[ssl]
system_default = client
[client]
MinProtocol = TLSv1.3
Ciphersuites = TLS_AES_128_GCM_SHA256
Groups = X25519
CNF
TLS_CLIENT=(env OPENSSL_CONF="$WORK/tls/client.cnf")

# host lists for the 10 000-tenant configs
: >"$WORK/nginx-hosts.map"; : >"$WORK/haproxy-hosts.map"; : >"$WORK/hiatus-tenants.toml"; : >"$WORK/caddy-sites"
awk -v n="$TENANTS" -v w="$WORK" 'BEGIN {
  for (k = 0; k < n; k++) {
    h = sprintf("t%05d.bench.localhost", k); id = sprintf("t%05d", k)
    printf "%s %s;\n", h, id >> (w "/nginx-hosts.map")
    printf "%s %s\n", h, id >> (w "/haproxy-hosts.map")
    printf "[[tenants]]\nid = \"%s\"\nhosts = [\"%s\"]\nupstreams = [\"127.0.0.1:@ORIGIN_PORT@\"]\n\n", id, h >> (w "/hiatus-tenants.toml")
    printf "http://%s:@MANY_PORT@%s\n", h, (k < n - 1 ? "," : "") >> (w "/caddy-sites")
  } }'

# The tenant "sched" (Host sched.localhost) gets a realistic schedule, none of it in force during
# the run: every window starts from the day after tomorrow (UTC). Its pass-through row against
# the plain tenant's shows what evaluating a schedule costs under load.
sched_windows() {
  local from k d
  from=$(date -u -d '+2 days' +%F)
  printf '\n# generated by run.sh: the schedule of tenant "sched", from %s on\n' "$from"
  printf '[[windows]]\nid = "sched-daily"\nscope = { tenants = ["sched"] }\ndaily = { at = "07:10", until = "07:30" }\nfrom = "%s"\n\n' "$from"
  printf '[[windows]]\nid = "sched-weekly"\nscope = { tenants = ["sched"] }\nweekly = { on = ["tue", "wed"], at = "22:30", until = "06:00" }\ntentative = true\nfrom = "%s"\n\n' "$from"
  printf '[[windows]]\nid = "sched-monthly"\nzone = "Europe/Oslo"\nscope = { tenants = ["sched"] }\nmonthly = { on = "3rd wed", at = "16:00", until = "19:00" }\nexcept = { months = ["jul"] }\nfrom = "%s"\n\n' "$from"
  printf '[[windows]]\nid = "sched-month-end"\nscope = { tenants = ["sched"] }\nmonthly = { on = "last", at = "20:00", until = "21:30" }\nfrom = "%s"\n\n' "$from"
  for k in $(seq 0 49); do           # releases and data-centre dates over the next year
    d=$(date -u -d "$from + $((k * 7 + 1)) days" +%F)
    printf '[[windows]]\nid = "sched-once-%02d"\nscope = { tenants = ["sched"] }\nonce = { start = "%sT12:00", end = "%sT13:00" }\n\n' "$k" "$d" "$d"
  done
  printf '[[windows]]\nid = "sched-dates"\nscope = { tenants = ["sched"] }\ndates = { on = ['
  for k in $(seq 0 23); do printf '%s"%s"' "$([ "$k" = 0 ] || echo ', ')" "$(date -u -d "$from + $((k * 15 + 3)) days" +%F)"; done
  printf '], at = "14:00", until = "15:00" }\n'
}
SCHED_WINDOWS=55           # the windows sched_windows writes: 4 rules, 50 once, 1 dates

# per proxy: ports and config files (base = pass/maint/refused/h2c, many = 10 000 tenants,
# tls = HTTPS with session cache and tickets, tlsnr = HTTPS without them)
declare -A PORT CONF
for px in $ALL_PROXIES; do
  alloc PASS_PORT H2_PORT MAINT_PORT REFUSED_PORT MANY_PORT WS_PORT TLS_PORT
  PORT[$px.tls]=$TLS_PORT
  # Hiatus routes by Host on one listener (ws.localhost: the WebSocket tenant)
  if [ "$px" = hiatus ]; then MAINT_PORT=$PASS_PORT; REFUSED_PORT=$PASS_PORT; WS_PORT=$PASS_PORT; fi
  PORT[$px.pass]=$PASS_PORT; PORT[$px.h2]=$H2_PORT; PORT[$px.maint]=$MAINT_PORT
  PORT[$px.refused]=$REFUSED_PORT; PORT[$px.many]=$MANY_PORT; PORT[$px.ws]=$WS_PORT
  ADMIN=off
  case $px in
    nginx)   render "$HERE/nginx.conf" "$WORK/conf/nginx.conf"
             render "$HERE/nginx-10k.conf" "$WORK/conf/nginx-10k.conf"
             NGX_CACHE=shared:SSL:10m NGX_TICKETS=on render "$HERE/nginx-tls.conf" "$WORK/conf/nginx-tls.conf"
             NGX_CACHE=off NGX_TICKETS=off render "$HERE/nginx-tls.conf" "$WORK/conf/nginx-tlsnr.conf" ;;
    haproxy) render "$HERE/haproxy.cfg" "$WORK/conf/haproxy.cfg"
             render "$HERE/haproxy-10k.cfg" "$WORK/conf/haproxy-10k.cfg"
             HA_CACHE=20000 HA_TICKETS="" render "$HERE/haproxy-tls.cfg" "$WORK/conf/haproxy-tls.cfg"
             HA_CACHE=0 HA_TICKETS=no-tls-tickets render "$HERE/haproxy-tls.cfg" "$WORK/conf/haproxy-tlsnr.cfg" ;;
    caddy)   render "$HERE/Caddyfile" "$WORK/conf/Caddyfile"
             { sed '/@CADDY_SITES@/,$d' "$HERE/Caddyfile-10k"; sed '$ s/$/ {/' "$WORK/caddy-sites"; sed '1,/@CADDY_SITES@/d' "$HERE/Caddyfile-10k"; } >"$WORK/conf/Caddyfile-10k.in"
             render "$WORK/conf/Caddyfile-10k.in" "$WORK/conf/Caddyfile-10k" ;;
    hiatus)  render "$HERE/hiatus.toml" "$WORK/conf/hiatus.toml"
             render "$HERE/hiatus-tls.toml" "$WORK/conf/hiatus-tls.toml"
             cp "$WORK/conf/hiatus-tls.toml" "$WORK/conf/hiatus-tlsnr.toml"   # no switch: see the file
             sched_windows >>"$WORK/conf/hiatus.toml"
             { cat "$HERE/hiatus-10k-head.toml"; echo; cat "$WORK/hiatus-tenants.toml"; } >"$WORK/conf/hiatus-10k.in"
             render "$WORK/conf/hiatus-10k.in" "$WORK/conf/hiatus-10k.toml"
             alloc ADMIN_PORT; PORT[hiatus.admin]=$ADMIN_PORT; ADMIN="127.0.0.1:$ADMIN_PORT"
             render "$WORK/conf/hiatus-10k.in" "$WORK/conf/hiatus-10k-reload.toml" ;;
    pingora) ;;             # no config file: its two listeners and the origin are arguments
  esac
done

PROXY_PID=""
start_proxy() {            # start_proxy PROXY base|many|ws|tls|tlsnr [CONFIG]: starts it pinned, sets PROXY_PID
  local px=$1 kind=$2 conf=${3:-} x=""
  case $kind in many) x=-10k ;; tls|tlsnr) x=-$kind ;; esac
  case $px in
    nginx)   start_bg "nginx-$kind" "$PROXY_CPU" nginx -p "$WORK" -c "$WORK/conf/nginx$x.conf" ;;
    haproxy) start_bg "haproxy-$kind" "$PROXY_CPU" haproxy -db -f "$WORK/conf/haproxy$x.cfg" ;;
    caddy)   start_bg "caddy-$kind" "$PROXY_CPU" env GOMAXPROCS=1 HOME="$WORK" XDG_DATA_HOME="$WORK" XDG_CONFIG_HOME="$WORK" \
               caddy run --adapter caddyfile --config "$WORK/conf/Caddyfile$x" ;;
    hiatus)  conf=${conf:-$WORK/conf/hiatus$x.toml}
             start_bg "hiatus-$kind" "$PROXY_CPU" "$HIATUS" run --config "$conf" --upgrade-sock "$WORK/hiatus-upgrade.sock" ;;
    # one upstream per process: the WebSocket row starts one on the echo origin
    pingora) if [ "$kind" = ws ]; then
               start_bg "pingora-$kind" "$PROXY_CPU" "$PLAIN" --upstream "127.0.0.1:$WS_ORIGIN_PORT" --threads 1 \
                 --listen "127.0.0.1:${PORT[pingora.ws]}"
             else
               start_bg "pingora-$kind" "$PROXY_CPU" "$PLAIN" --upstream "127.0.0.1:$ORIGIN_PORT" --h2c --threads 1 \
                 --listen "127.0.0.1:${PORT[pingora.pass]}" --listen "127.0.0.1:${PORT[pingora.h2]}"
             fi ;;
  esac
  PROXY_PID=$LAST_PID
}
stop_proxy() {             # hiatus: SIGINT (fast stop); the others: SIGTERM (fast stop)
  local px=$1
  if [ "$px" = hiatus ]; then stop_started "$PROXY_PID" INT; else stop_started "$PROXY_PID" TERM; fi
}

# ---------------------------------------------------------------- the pages served by nginx/HAProxy/Caddy
start_proxy hiatus base
wait_status "$PROXY_PID" "${PORT[hiatus.pass]}" bench.localhost / 200 60 || { tail -20 "$WORK/hiatus-base.log" >&2; exit 1; }
curl -s -H 'Host: maint.localhost' -H 'Accept:' -H 'User-Agent:' "http://127.0.0.1:${PORT[hiatus.pass]}/" >"$WORK/pages/maint.html"
curl -s -H 'Host: dead.localhost' -H 'Accept:' -H 'User-Agent:' "http://127.0.0.1:${PORT[hiatus.pass]}/" >"$WORK/pages/refused.html"
curl -s -H 'Host: status.localhost' "http://127.0.0.1:${PORT[hiatus.pass]}/" >"$WORK/pages/status.html"
curl -s -H 'Host: status.localhost' -H 'Accept-Encoding: gzip' "http://127.0.0.1:${PORT[hiatus.pass]}/" >"$WORK/pages/status.html.gz"
stop_proxy hiatus
{ printf 'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: %s\r\ncache-control: no-store\r\n\r\n' \
    "$(stat -c %s "$WORK/pages/refused.html")"; cat "$WORK/pages/refused.html"; } >"$WORK/pages/refused.http"
log "Hiatus pages: maintenance $(stat -c %s "$WORK/pages/maint.html") B, upstream refused $(stat -c %s "$WORK/pages/refused.html") B, status $(stat -c %s "$WORK/pages/status.html") B (gzip: $(stat -c %s "$WORK/pages/status.html.gz") B)"

# ---------------------------------------------------------------- scenarios
# scenario -> config kind, port key, Host, path, expected status, tool
scen() {
  case $1 in
    small)   echo "base pass bench.localhost / 200 wrk" ;;
    sched)   echo "base pass sched.localhost / 200 wrk" ;;
    64k)     echo "base pass bench.localhost /64k 200 wrk" ;;
    maint)   echo "base maint maint.localhost / 503 wrk" ;;
    status)  echo "base pass status.localhost / 200 wrk" ;;
    maintgz)  echo "base maint maint.localhost / 503 wrk-gzip" ;;
    statusgz) echo "base pass status.localhost / 200 wrk-gzip" ;;
    refused) echo "base refused dead.localhost / 502 wrk" ;;
    10k)     echo "many many t00042.bench.localhost / 200 wrk-hosts" ;;
    h1)      echo "base pass bench.localhost / 200 h2load-h1" ;;
    h2c)     echo "base h2 bench.localhost / 200 h2load-h2c" ;;
    # request shapes (issue 16); `raw` is wrk with request.lua: method, body bytes, framing
    post1k)      echo "base pass bench.localhost /upload 200 raw POST 1024 length" ;;
    chunked16k)  echo "base pass bench.localhost /upload 200 raw POST 16384 chunked" ;;
    upload1m)    echo "base pass bench.localhost /upload 200 raw POST 1048576 length" ;;
    download1m)  echo "base pass bench.localhost /1m 200 wrk" ;;
    maintpost)   echo "base maint maint.localhost / 503 raw POST 1024 length" ;;
    refusedpost) echo "base refused dead.localhost / 502 raw POST 1024 length" ;;
    http10)      echo "base pass bench.localhost / 200 raw GET 0 http10" ;;
    h2cm10)      echo "base h2 bench.localhost / 200 h2load-h2c-m10" ;;
    # ws-bench: per connection, upgrade + 1000 echoes of 32 bytes + close, again until the end
    ws)          echo "ws ws ws.localhost /ws 200 ws-echo" ;;
    # over TLS (issue 18): keep-alive HTTP/1.1, h2 with 10 streams, and a new connection per
    # request (openssl s_time: handshake, `GET / HTTP/1.0`, close) without and with resumption
    tls)         echo "tls tls bench.localhost / 200 wrk-tls" ;;
    h2tls)       echo "tls tls bench.localhost / 200 h2load-h2-m10" ;;
    hsfull)      echo "tlsnr tls bench.localhost / 200 stime-new" ;;
    hsresume)    echo "tls tls bench.localhost / 200 stime-reuse" ;;
  esac
}
scen_title() {
  case $1 in
    small)   echo "pass-through, small response (wrk)" ;;
    sched)   echo "pass-through, tenant with $SCHED_WINDOWS windows (wrk)" ;;
    64k)     echo "pass-through, 64 KiB (wrk)" ;;
    maint)   echo "maintenance page 503 (wrk)" ;;
    status)  echo "status page flood, 200 (wrk)" ;;
    maintgz)  echo "maintenance page 503, clients that send a browser's Accept-Encoding (wrk)" ;;
    statusgz) echo "status page flood, 200, clients that take gzip like browsers (wrk)" ;;
    refused) echo "upstream refused, error page 502 (wrk)" ;;
    10k)     echo "10 000 tenants, Host spread (wrk)" ;;
    h1)      echo "pass-through small, h2load --h1" ;;
    h2c)     echo "pass-through small, h2load h2c" ;;
    post1k)      echo "POST 1 KiB (Content-Length)" ;;
    chunked16k)  echo "POST 16 KiB chunked" ;;
    upload1m)    echo "upload 1 MiB (POST)" ;;
    download1m)  echo "download 1 MiB" ;;
    maintpost)   echo "maintenance page 503, POST 1 KiB" ;;
    refusedpost) echo "upstream refused 502, POST 1 KiB" ;;
    http10)      echo "HTTP/1.0 without keep-alive" ;;
    h2cm10)      echo "h2c, 10 streams per connection" ;;
    ws)          echo "WebSocket: upgrade + echo of 1000 small messages (per message)" ;;
    tls)         echo "TLS keep-alive HTTP/1.1 (wrk https)" ;;
    h2tls)       echo "TLS h2, 10 streams per connection (h2load)" ;;
    hsfull)      echo "TLS full handshake per request, no resumption (s_time -new)" ;;
    hsresume)    echo "TLS resumed handshake per request (s_time -reuse)" ;;
  esac
}
na_reason() {              # why a proxy/scenario pair is not run (empty: it is run)
  local px=$1 sc=$2
  if [ "$px" = caddy ] && [ -n "$CADDY_NA" ]; then echo "$CADDY_NA"; return; fi
  # issue 18 compares TLS with nginx and HAProxy only
  case $sc in tls|h2tls|hsfull|hsresume) case $px in caddy|pingora) echo "TLS rows: nginx and HAProxy only"; return ;; esac ;; esac
  if [ "$sc" = sched ] && [ "$px" != hiatus ]; then echo "a Hiatus schedule: compare with the row above"; return; fi
  # the status page is Hiatus's own: its CPU per request is compared with Hiatus's maintenance page
  case $sc in status|statusgz|maintgz) [ "$px" != hiatus ] && { echo "a Hiatus status page: compare with Hiatus's maint row"; return; } ;; esac
  # the baseline only proxies: it has no pages and no routing by Host
  if [ "$px" = pingora ]; then case $sc in maint|refused|10k|maintpost|refusedpost) echo "plain proxy: no pages, no Host routing"; return ;; esac; fi
  return 0
}

is_na() { awk -F'\t' -v s="$1" -v p="$2" '$1 == s && $2 == p {f = 1} END {exit !f}' "$NA"; }
RUNS="$WORK/runs.tsv"      # scenario proxy round rps p50_ms p99_ms cpu_us rss_kb errors requests origin_conns
origin_accepts() {         # origin_accepts [PORT]: connections the origin accepted (stub_status layout)
  curl -s --max-time 2 "http://127.0.0.1:${1:-$ORIGIN_PORT}/origin-status" | awk 'NR == 3 {print $1}'
}
: >"$RUNS"
NA="$WORK/na.tsv"
: >"$NA"

to_ms() {                  # wrk latency "812.00us" / "1.23ms" / "1.02s" -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

run_load() {               # run_load TOOL PORT HOST PATH OUTFILE [METHOD BYTES FRAMING]
  local tool=$1 port=$2 host=$3 path=$4 out=$5 method=${6:-GET} bytes=${7:-0} framing=${8:-length}
  case $tool in
    raw)       METHOD=$method BODY=$bytes CHUNKED=$([ "$framing" = chunked ] && echo 1 || echo 0) \
               HTTP10=$([ "$framing" = http10 ] && echo 1 || echo 0) REQ_HOST=$host REQ_PATH=$path \
                 "${PIN_LOAD[@]}" timeout $((DURATION + 15)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency \
                 -s "$HERE/request.lua" "http://127.0.0.1:$port$path" >"$out" 2>&1 || true ;;
    wrk)       "${PIN_LOAD[@]}" timeout $((DURATION + 15)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency \
                 -H "Host: $host" "http://127.0.0.1:$port$path" >"$out" 2>&1 || true ;;
    wrk-gzip)  "${PIN_LOAD[@]}" timeout $((DURATION + 15)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency \
                 -H "Host: $host" -H "Accept-Encoding: gzip, deflate, br, zstd" "http://127.0.0.1:$port$path" >"$out" 2>&1 || true ;;
    wrk-hosts) HOSTS=$TENANTS "${PIN_LOAD[@]}" timeout $((DURATION + 15)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency \
                 -s "$HERE/hosts.lua" "http://127.0.0.1:$port$path" >"$out" 2>&1 || true ;;
    h2load-h1|h2load-h2c|h2load-h2c-m10)
               local h1=(); [ "$tool" = h2load-h1 ] && h1=(--h1)
               local streams=1; [ "$tool" = h2load-h2c-m10 ] && streams=10
               "${PIN_LOAD[@]}" timeout $((DURATION + 15)) h2load "${h1[@]}" -c "$CONNS" -m "$streams" -t 1 -D "$DURATION" \
                 -H ":authority: $host" --log-file="$out.reqlog" "http://127.0.0.1:$port$path" >"$out" 2>&1 || true ;;
    wrk-tls)   "${TLS_CLIENT[@]}" "${PIN_LOAD[@]}" timeout $((DURATION + 15)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency \
                 -H "Host: $host" "https://127.0.0.1:$port$path" >"$out" 2>&1 || true ;;
    h2load-h2-m10)   # h2 by ALPN; the name in the URL is the SNI, --connect-to the address
               "${TLS_CLIENT[@]}" "${PIN_LOAD[@]}" timeout $((DURATION + 15)) h2load -c "$CONNS" -m 10 -t 1 -D "$DURATION" \
                 --tls13-ciphers TLS_AES_128_GCM_SHA256 --groups X25519 --connect-to "127.0.0.1:$port" \
                 --log-file="$out.reqlog" "https://$host:$port$path" >"$out" 2>&1 || true ;;
    stime-new|stime-reuse)
               # openssl s_time makes one connection at a time (handshake, `GET path HTTP/1.0`,
               # read to the close); STIME_CLIENTS of them side by side keep the proxy busy. Each
               # prints a character per connection: `r` resumed, `*` a full TLS 1.3 handshake.
               # s_time sends no Host (Hiatus answers 400 to that): the path carries one, and
               # s_time's own " HTTP/1.0" ends up in the value of a harmless field after it.
               local mode=${tool#stime-} k t0 t1 clients=() req="$path HTTP/1.0"$'\r\n'"Host: $host"$'\r\n'"X-Bench: s_time"
               t0=$(date +%s.%N)
               for k in $(seq "$STIME_CLIENTS"); do
                 "${TLS_CLIENT[@]}" "${PIN_LOAD[@]}" timeout $((DURATION + 15)) openssl s_time -connect "127.0.0.1:$port" \
                   "-$mode" -www "$req" -time "$DURATION" -ciphersuites TLS_AES_128_GCM_SHA256 >"$out.$k" 2>&1 &
                 clients+=("$!")
               done
               wait "${clients[@]}" || true      # these only: the origin and the proxy run on
               t1=$(date +%s.%N)
               { echo "mode $mode wall $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"; cat "$out".[0-9]*; } >"$out" ;;
    ws-echo)   "${PIN_LOAD[@]}" timeout $((DURATION + 15)) "$WSB" client --connect "127.0.0.1:$port" --host "$host" \
                 --path "$path" --connections "$CONNS" --messages 1000 --size 32 --duration "$DURATION" >"$out" 2>&1 || true ;;
  esac
}
parse_load() {             # parse_load TOOL OUTFILE EXPECTED -> "rps p50_ms p99_ms errors requests"
  local tool=$1 out=$2 want=$3
  case $tool in
    wrk|wrk-gzip|wrk-hosts|wrk-tls|raw)
      local rps req p50 p99 sock non2
      rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
      req=$(awk '/requests in/ {print $1}' "$out")
      p50=$(awk '$1 == "50%" {print $2}' "$out"); p99=$(awk '$1 == "99%" {print $2}' "$out")
      sock=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")
      non2=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$out")
      sock=${sock:-0}; non2=${non2:-0}
      # a 2xx scenario counts non-2xx as errors; a page scenario expects non-2xx on every response
      if [ "${want:0:1}" = 2 ]; then err=$((sock + non2)); else err=$((sock + ${req:-0} - non2)); fi
      [ -n "$rps" ] && [ -n "$req" ] || { echo ""; return; }
      echo "$rps $(to_ms "$p50") $(to_ms "$p99") $err $req" ;;
    ws-echo)   # a "request" is one message echoed
      local rps req p50 p99 err
      rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
      req=$(awk '/messages of/ {print $1; exit}' "$out")
      p50=$(awk '/^Latency p50:/ {print $3}' "$out"); p99=$(awk '/^Latency p50:/ {print $6}' "$out")
      err=$(awk '/^Errors:/ {print $2}' "$out")
      [ -n "$rps" ] && [ -n "$req" ] || { echo ""; return; }
      echo "$rps $p50 $p99 ${err:-0} $req" ;;
    stime-*)   # a "request" is one connection: handshake + one small answer; latency: the mean
      awk -v want="${tool#stime-}" '
        /^mode / { wall = $4 }
        /connections in .* real seconds/ { n += $1; if ($(NF - 4) + 0 == 0) bad = 1 }
        /^[r*]+$/ { r += gsub(/r/, "r"); f += gsub(/\*/, "*") }
        END {
          if (n == 0 || wall == 0 || bad) { print ""; exit }
          # every connection of its kind: a resumed one in a full row, or a full one (after the
          # first of each client) in a resumed row, counts as failed
          err = (want == "new" ? r : (f > 0 ? f : 0))
          ms = wall * 1000 / n * '"$STIME_CLIENTS"'
          printf "%.0f %.3f %.3f %d %d\n", n / wall, ms, ms, err, n }' "$out" ;;
    h2load-*)
      local rps done_ bad
      rps=$(awk '/^finished in/ {gsub(",", ""); print $4}' "$out")
      done_=$(awk '/^requests:/ {gsub(",", ""); print $6}' "$out")
      bad=$(awk '/^requests:/ {gsub(",", ""); print $10 + $12 + $14}' "$out")
      [ -n "$rps" ] && [ -n "$done_" ] || { echo ""; return; }
      local nw; nw=$(awk -v w="$want" '$2 != w' "$out.reqlog" | wc -l)
      sort -n -k3,3 "$out.reqlog" | awk -v rps="$rps" -v err=$((bad + nw)) -v req="$done_" '
        { v[NR] = $3 } END {
          if (NR == 0) { print ""; exit }
          i50 = int(NR * 0.50 + 0.999); i99 = int(NR * 0.99 + 0.999)
          printf "%s %.3f %.3f %d %d\n", rps, v[i50] / 1000, v[i99] / 1000, err, req }' ;;
  esac
}

run_one() {                # run_one SCENARIO PROXY ROUND
  local sc=$1 px=$2 r=$3 kind pkey host path want tool method bytes framing port pids t0 t1 a0 a1 res rss out
  read -r kind pkey host path want tool method bytes framing <<<"$(scen "$sc")"
  port=${PORT[$px.$pkey]}
  start_proxy "$px" "$kind"
  local proto=""; [[ "$tool" == h2load-h2c* ]] && proto=h2
  case $kind in tls|tlsnr) proto=tls ;; esac
  if ! wait_status "$PROXY_PID" "$port" "$host" "$path" "$want" 60 "$proto"; then
    log "$px/$sc: not ready; log tail:"; tail -5 "$WORK/$px-$kind.log" >&2
    stop_proxy "$px"; printf '%s\t%s\t%s\n' "$sc" "$px" "did not start or answer $want" >>"$NA"; return
  fi
  out="$WORK/out-$sc-$px-$r.txt"
  local oport=$ORIGIN_PORT; [ "$tool" = ws-echo ] && oport=$WS_ORIGIN_PORT
  mapfile -t pids < <(tree_pids "$PROXY_PID")
  a0=$(origin_accepts "$oport")
  t0=$(cpu_ticks "${pids[@]}")
  run_load "$tool" "$port" "$host" "$path" "$out" "$method" "$bytes" "$framing"
  mapfile -t pids < <(tree_pids "$PROXY_PID")
  t1=$(cpu_ticks "${pids[@]}")
  a1=$(origin_accepts "$oport")
  rss=$(hwm_kb "${pids[@]}")
  stop_proxy "$px"
  res=$(parse_load "$tool" "$out" "$want")
  if [ -z "$res" ]; then
    log "$px/$sc: no result; output:"; head -20 "$out" >&2
    printf '%s\t%s\t%s\n' "$sc" "$px" "load run failed" >>"$NA"; return
  fi
  local rps p50 p99 err req cpu
  read -r rps p50 p99 err req <<<"$res"
  cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$req" 'BEGIN { printf "%.2f", (n > 0 ? d / hz * 1e6 / n : 0) }')
  local oc=$(( ${a1:-0} - ${a0:-0} - 1 ))   # minus the status request itself
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sc" "$px" "$r" "$rps" "$p50" "$p99" "$cpu" "$rss" "$err" "$req" "$oc" >>"$RUNS"
  log "$(printf '%-8s %-8s round %s: %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  %7.2f us/req  %6d kB  errors %s  origin conns %s' \
    "$sc" "$px" "$r" "$rps" "$p50" "$p99" "$cpu" "$rss" "$err" "$oc")"
}

# the pages must be the same bytes everywhere (checked once, on the base configs)
check_pages() {
  local px sc host want port body
  for px in $PROXIES; do
    [ -z "$(na_reason "$px" maint)" ] || continue
    start_proxy "$px" base
    wait_status "$PROXY_PID" "${PORT[$px.pass]}" bench.localhost / 200 60 || { stop_proxy "$px"; continue; }
    for sc in maint refused; do
      read -r _ pkey host _ want _ <<<"$(scen "$sc")"
      port=${PORT[$px.$pkey]}
      body="$WORK/check-$px-$sc.html"
      got=$(curl -s -o "$body" -w '%{http_code}' --max-time 3 -H "Host: $host" -H 'Accept:' -H 'User-Agent:' "http://127.0.0.1:$port/" || true)
      if [ "$got" != "$want" ]; then
        log "$px/$sc: status $got, want $want: marked n/a"; printf '%s\t%s\t%s\n' "$sc" "$px" "answers $got, not $want" >>"$NA"
      elif [ "$sc" = maint ] && ! cmp -s "$body" "$WORK/pages/maint.html"; then
        log "$px/$sc: page differs from Hiatus's ($(stat -c %s "$body") B)"
      elif [ "$sc" = refused ] && [ "$(stat -c %s "$body")" != "$(stat -c %s "$WORK/pages/refused.html")" ]; then
        log "$px/$sc: page size differs from Hiatus's ($(stat -c %s "$body") B)"
      fi
    done
    stop_proxy "$px"
  done
}
check_pages

START=$SECONDS
# Odd rounds run the proxies in the order given, even rounds in reverse: a drift of the machine
# over a round (other tenants of the host) then favours neither end of the list.
REVERSED=$(echo $PROXIES | tr ' ' '\n' | tac | tr '\n' ' ')
for r in $(seq "$ROUNDS"); do
  order=$PROXIES
  [ $((r % 2)) = 0 ] && order=$REVERSED
  for sc in $SCENARIOS; do
    for px in $order; do
      reason=$(na_reason "$px" "$sc")
      if [ -n "$reason" ]; then
        [ "$r" = 1 ] && printf '%s\t%s\t%s\n' "$sc" "$px" "$reason" >>"$NA"
        continue
      fi
      is_na "$sc" "$px" && continue
      run_one "$sc" "$px" "$r"
    done
  done
done
log "load runs took $((SECONDS - START)) s"

# ---------------------------------------------------------------- reload under load (Hiatus, 10 000 tenants)
RELOAD_LINE=""
if [ "$RELOAD" = 1 ] && [[ " $PROXIES " == *" hiatus "* ]]; then
  RD=$((DURATION < 8 ? 8 : DURATION))
  conf="$WORK/conf/hiatus-10k-reload.toml"
  start_proxy hiatus many "$conf"
  if wait_status "$PROXY_PID" "${PORT[hiatus.many]}" t00042.bench.localhost / 200 60; then
    gen() { curl -s --max-time 2 "http://127.0.0.1:${PORT[hiatus.admin]}/metrics" | awk '/^hiatus_config_generation / {print $2}'; }
    g0=$(gen)
    out="$WORK/out-reload.txt"
    HOSTS=$TENANTS "${PIN_LOAD[@]}" timeout $((RD + 15)) wrk -t1 -c"$CONNS" -d"${RD}s" --timeout 5s --latency \
      -s "$HERE/hosts.lua" "http://127.0.0.1:${PORT[hiatus.many]}/" >"$out" 2>&1 &
    WRK_PID=$!; STARTED+=("$WRK_PID")
    n=0
    for k in 1 2 3 4; do           # four reloads, spread over the run: rewrite, SIGHUP, rewrite, SIGHUP
      sleep "$(awk -v d="$RD" 'BEGIN { printf "%.1f", (d - 2) / 4 }')"
      if [ $((k % 2)) = 1 ]; then
        { cat "$conf"; echo "# reload $k"; } >"$conf.new" && mv "$conf.new" "$conf"
      else
        kill -HUP "$PROXY_PID"
      fi
      n=$((n + 1))
    done
    wait "$WRK_PID" || true
    stop_started "$WRK_PID" TERM
    sleep 1.5
    g1=$(gen)
    mapfile -t pids < <(tree_pids "$PROXY_PID")
    rss=$(hwm_kb "${pids[@]}")
    res=$(parse_load wrk "$out" 200)
    read -r rps _ p99 err req <<<"$res"
    sock=$(awk '/Socket errors:/' "$out"); non2=$(awk '/Non-2xx/ {print $5}' "$out")
    RELOAD_LINE="Reload under load (Hiatus, $TENANTS tenants, ${RD} s, $n reloads: 2 rewrites of the file, 2 SIGHUP; config generation ${g0:-?} → ${g1:-?}): ${req:-?} requests, ${rps:-?} req/s, p99 ${p99:-?} ms, non-2xx ${non2:-0}, socket errors: ${sock:-none}; peak RSS $(awk -v k="${rss:-0}" 'BEGIN { printf "%.1f", k / 1024 }') MiB. **Failed requests: ${err:-?}** (expected 0)."
    log "$RELOAD_LINE"
  else
    RELOAD_LINE="Reload under load: Hiatus with $TENANTS tenants did not start."
  fi
  stop_proxy hiatus
fi

# ---------------------------------------------------------------- the table
machine() {
  local cpu kern
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  kern=$(uname -r)
  echo "Machine: ${cpu:-unknown CPU}, $NCPU cores, Linux $kern. Origin (nginx) and load generator pinned to cpu $LOAD_CPU, proxy under test to cpu $PROXY_CPU, one worker/thread each."
  echo "Versions: nginx $(nginx -v 2>&1 | sed 's#.*/##'), HAProxy $(haproxy -v | awk 'NR==1 {print $3}'), Caddy $( [ -z "$CADDY_NA" ] && caddy version | awk '{print $1}' || echo "n/a ($CADDY_NA)"), Hiatus $HIATUS_REV, $(wrk -v 2>&1 | awk 'NR==1 {print $1, $2}'), $(h2load --version | head -1)."
  echo "Run: $(date -u +%Y-%m-%dT%H:%MZ), $CONNS connections, ${DURATION} s per run, $ROUNDS round(s), medians$([ "$QUICK" = 1 ] && echo '; **--quick: short runs, noisy**')."
}
# the median of a[1..n] (sorts a), for the awk programs of the tables below
AWK_MED='function med(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }'
# paired BASE TITLE: per scenario, Hiatus's CPU per request over BASE's in the same round
paired() {
  echo "| scenario | $2 CPU µs/req | Hiatus CPU µs/req | Hiatus ÷ $2, median of rounds (min–max) | req/s Hiatus ÷ $2 |"
  echo "|---|---:|---:|---:|---:|"
  local sc
  for sc in $SCENARIOS; do
    awk -F'\t' -v s="$sc" -v base="$1" -v title="$(scen_title "$sc")" "$AWK_MED"'
      $1 == s && $2 == base { pc[$3] = $7; pr[$3] = $4 }
      $1 == s && $2 == "hiatus" { hc[$3] = $7; hr[$3] = $4 }
      END {
        for (r in pc) if (r in hc && pc[r] > 0) { n++; q[n] = hc[r] / pc[r]; a[n] = pc[r]; b[n] = hc[r]; x[n] = hr[r] / pr[r]
          if (n == 1 || q[n] < lo) lo = q[n]; if (n == 1 || q[n] > hi) hi = q[n] }
        if (n == 0) exit
        printf "| %s | %.1f | %.1f | %.2f (%.2f–%.2f) | %.2f |\n", title, med(a, n), med(b, n), med(q, n), lo, hi, med(x, n) }' "$RUNS"
  done
}
table() {
  echo "# Load benchmark results"
  echo
  machine
  echo
  echo "| scenario | proxy | req/s | p50 ms | p99 ms | CPU µs/req (min–max) | peak RSS MiB | req/s ×nginx | CPU ×nginx | RSS ×nginx | failed | origin conns |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  local sc px
  for sc in $SCENARIOS; do
    for px in $PROXIES; do
      reason=$(awk -F'\t' -v s="$sc" -v p="$px" '$1 == s && $2 == p {print $3; exit}' "$NA")
      if [ -n "$reason" ]; then
        echo "| $(scen_title "$sc") | $px | n/a ($reason) | | | | | | | | | |"
        continue
      fi
      awk -F'\t' -v s="$sc" -v p="$px" -v title="$(scen_title "$sc")" "$AWK_MED"'
        function ratio(x, b) { return (b > 0 ? sprintf("%.2f", x / b) : "–") }
        $1 == s && $2 == "nginx" { bn++; brps[bn] = $4; bcpu[bn] = $7; brss[bn] = $8 }
        $1 == s && $2 == p { n++; rps[n] = $4; p50[n] = $5; p99[n] = $6; cpu[n] = $7; rss[n] = $8; err += $9; oc[n] = $11
          if (n == 1 || $7 < lo) lo = $7; if (n == 1 || $7 > hi) hi = $7 }
        END {
          if (n == 0) { printf "| %s | %s | no data | | | | | | | | | |\n", title, p; exit }
          R = med(rps, n); C = med(cpu, n); M = med(rss, n)
          if (bn > 0) { BR = med(brps, bn); BC = med(bcpu, bn); BM = med(brss, bn) }
          printf "| %s | %s | %.0f | %.2f | %.2f | %.1f (%.1f–%.1f) | %.1f | %s | %s | %s | %d | %d |\n",
            title, p, R, med(p50, n), med(p99, n), C, lo, hi, M / 1024, ratio(R, BR), ratio(C, BC), ratio(M, BM), err, med(oc, n) }' "$RUNS"
    done
  done
  echo
  echo "CPU µs/req = (utime + stime of the proxy's processes, from /proc/PID/stat, over the run) / requests; peak RSS = VmHWM summed over its processes (a fresh process per run); failed = socket errors + unexpected statuses, summed over rounds; origin conns = connections the origin accepted during the run (median; connection reuse shows as about the connection count or less). h2load rows: p50/p99 from its per-request log; one stream per connection (h2cm10, h2tls: 10). TLS rows: TLS 1.3, X25519, TLS_AES_128_GCM_SHA256, an ECDSA P-256 certificate; s_time rows: a request is a new connection (handshake, \`GET / HTTP/1.0\` with a Host, close) by $STIME_CLIENTS openssl s_time clients side by side, p50 and p99 show the mean time per connection, failed counts connections that resumed when they should not or did not when they should."
  if [[ " $PROXIES " == *" nginx "* && " $PROXIES " == *" hiatus "* ]]; then
    echo
    echo "Hiatus against nginx, paired per round (each round's Hiatus run divided by the same round's nginx run, then the median over the rounds): less exposed to the machine drifting between rounds than the ratio of the medians above."
    echo
    paired nginx nginx
  fi
  if [[ " $PROXIES " == *" haproxy "* && " $PROXIES " == *" hiatus "* ]]; then
    echo
    echo "Hiatus against HAProxy, paired per round the same way:"
    echo
    paired haproxy HAProxy
  fi
  if [[ " $PROXIES " == *" pingora "* && " $PROXIES " == *" hiatus "* ]]; then
    echo
    echo "Hiatus against the plain Pingora proxy (benches/load/plain_pingora.rs: same Pingora, runtime settings and allocator, no schedule, pages or metrics); the two run back to back in every round, so the per-round ratios are paired:"
    echo
    paired pingora Pingora
  fi
  if [[ " $SCENARIOS " == *" sched "* && " $SCENARIOS " == *" small "* ]]; then
    echo
    echo "Schedule evaluation under load: Hiatus, the tenant with $SCHED_WINDOWS windows (none in force) against the tenant with none, run back to back in every round:"
    echo
    within small sched "Hiatus, no windows" "$SCHED_WINDOWS windows" "with ÷ without"
  fi
  if [[ " $SCENARIOS " == *" status "* && " $SCENARIOS " == *" maint "* ]]; then
    echo
    echo "Status-host flood: Hiatus's status page (served from its per-minute cache) against its maintenance page, run back to back in every round:"
    echo
    within maint status "Hiatus maintenance page" "status page" "status ÷ maintenance"
  fi
  if [[ " $SCENARIOS " == *" statusgz "* && " $SCENARIOS " == *" maintgz "* ]]; then
    echo
    echo 'Both floods from clients that send `Accept-Encoding: gzip, deflate, br, zstd` (as every browser does): the status page'"'"'s gzip-coded copy (made once per rendering) against the maintenance page (made per request, not coded), run back to back in every round:'
    echo
    within maintgz statusgz "Hiatus maintenance page" "status page, gzip" "status (gzip) ÷ maintenance"
  fi
  if [ -n "$RELOAD_LINE" ]; then echo; echo "$RELOAD_LINE"; fi
}
# within A B TITLE_A TITLE_B TITLE_RATIO: Hiatus's CPU per request in scenario B over scenario A,
# paired per round
within() {
  echo "| $3: CPU µs/req | $4: CPU µs/req | $5, median of rounds (min–max) |"
  echo "|---:|---:|---:|"
  awk -F'\t' -v sa="$1" -v sb="$2" "$AWK_MED"'
    $1 == sa && $2 == "hiatus" { pc[$3] = $7 }
    $1 == sb && $2 == "hiatus" { hc[$3] = $7 }
    END {
      for (r in pc) if (r in hc && pc[r] > 0) { n++; q[n] = hc[r] / pc[r]; a[n] = pc[r]; b[n] = hc[r]
        if (n == 1 || q[n] < lo) lo = q[n]; if (n == 1 || q[n] > hi) hi = q[n] }
      if (n == 0) exit
      printf "| %.1f | %.1f | %.2f (%.2f–%.2f) |\n", med(a, n), med(b, n), med(q, n), lo, hi }' "$RUNS"
}
table | tee "$OUT"
log "written to $OUT"
