#!/usr/bin/env bash
# Instructions per request of a Hiatus build, counted by callgrind: deterministic (the same
# binary gives the same count to within a few instructions), so a change of 1% shows, where
# the CPU-time rows of run.sh move by 10-20% between runs on a shared machine. For comparing
# builds of Hiatus with each other; run.sh is the comparison with other proxies.
#
#   benches/load/instructions.sh [--requests N] [--streams M] [--shapes "post1k chunked16k http10"]
#                                [--no-build] [--no-install] [BINARY...]
#
# Counts the whole process in user space (every thread: the lanes, pingora, tokio's scheduler
# and drivers, the allocator; h2c's stream tasks too), not the kernel: the counters are zeroed
# after 500 warm-up requests and read after N more. One scenario per row: pass-through over
# HTTP/1.1 (h2load --h1) and h2c, and the maintenance page, against an nginx origin on
# 127.0.0.1, `-c 8 -m M` (M streams at once per connection, default 1; HTTP/1.1 pipelines
# them), N requests (default 5000). BINARY defaults to target/release/hiatus (built unless
# --no-build). KEEP_WORK=1 keeps the callgrind files, for callgrind_annotate. --shapes: instead,
# rows of run.sh's request shapes sent by wrk (request.lua), about N requests each.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REQUESTS=5000
STREAMS=1
SHAPES=""
BUILD=1
INSTALL=1
BINS=()
while [ $# -gt 0 ]; do
  case $1 in
    --requests) REQUESTS=$2; shift ;;
    --streams) STREAMS=$2; shift ;;
    --shapes) SHAPES=$2; shift ;;
    --no-build) BUILD=0 ;;
    --no-install) INSTALL=0 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "instructions.sh: unknown option $1" >&2; exit 2 ;;
    *) BINS+=("$1") ;;
  esac
  shift
done
log() { printf '[instructions %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ "$INSTALL" = 1 ]; then
  missing=()
  command -v valgrind >/dev/null || missing+=(valgrind)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v h2load >/dev/null || missing+=(nghttp2-client)
  command -v curl >/dev/null || missing+=(curl)
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    log "installing ${missing[*]} (apt-get)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
if [ ${#BINS[@]} -eq 0 ]; then
  if [ "$BUILD" = 1 ]; then
    log "cargo build --release --locked --bin hiatus"
    (cd "$ROOT" && cargo build --release --locked --bin hiatus)
  fi
  BINS=("$ROOT/target/release/hiatus")
fi

WORK=$(mktemp -d /tmp/hiatus-instructions.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/www" "$WORK/conf" "$WORK/tmp"
PIDS=()
cleanup() {
  local rc=$? p
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP_WORK:-}" ]; then echo "instructions.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT

free_port() {              # a free loopback port (not listened on now, not handed out before)
  local used p
  used=" $(ss -Htan 2>/dev/null | awk '{n=split($4,a,":"); printf "%s ", a[n]}') ${TAKEN:-}"
  while :; do
    p=$((20000 + RANDOM % 12000))
    case "$used" in *" $p "*) continue ;; esac
    TAKEN="${TAKEN:-} $p "
    echo "$p"; return
  done
}
ORIGIN_PORT=$(free_port); PASS_PORT=$(free_port); H2_PORT=$(free_port); DEAD_PORT=$(free_port)
render() {                 # render TEMPLATE OUT: the @NAME@s run.sh's templates use
  sed -e "s#@WORK@#$WORK#g" -e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" -e "s#@PASS_PORT@#$PASS_PORT#g" \
      -e "s#@H2_PORT@#$H2_PORT#g" -e "s#@DEAD_PORT@#$DEAD_PORT#g" "$1" >"$2"
}
head -c 65536 /dev/urandom >"$WORK/www/64k"
render "$HERE/origin.nginx.conf" "$WORK/conf/origin.conf"
render "$HERE/hiatus.toml" "$WORK/conf/hiatus.toml"
nginx -p "$WORK" -c "$WORK/conf/origin.conf" >"$WORK/origin.out" 2>&1 &
PIDS+=($!)

status() {                 # status PORT HOST: the status code of GET /
  curl -s -o /dev/null -m 2 -w '%{http_code}' -H "Host: $2" "http://127.0.0.1:$1/" || true
}
wait_for() {               # wait_for PORT HOST STATUS TRIES: until GET / answers STATUS
  local i
  for i in $(seq "$4"); do [ "$(status "$1" "$2")" = "$3" ] && return 0; sleep 0.2; done
  echo "instructions.sh: 127.0.0.1:$1 (Host $2) does not answer $3" >&2
  return 1
}
wait_for "$ORIGIN_PORT" origin 200 50 || { cat "$WORK/origin.out" "$WORK/origin.error.log" >&2 2>/dev/null; exit 1; }

# count BINARY HOST MODE: instructions per request (MODE: h1 or h2c)
count() {
  local bin=$1 host=$2 mode=$3 out pid n total want h1=()
  out="$WORK/callgrind-$host-$mode.out"
  rm -f "$out" "$out".*
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" run --config "$WORK/conf/hiatus.toml" >"$WORK/hiatus.out" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  want=200; [ "$host" = maint.localhost ] && want=503
  wait_for "$PASS_PORT" "$host" "$want" 300 || { cat "$WORK/hiatus.out" >&2; exit 1; }
  [ "$mode" = h1 ] && h1=(--h1)
  load() {                 # load N: N requests; prints how many got the expected status
    case $mode in
      h1|h2c) h2load "${h1[@]}" -c 8 -m "$STREAMS" -t 1 -n "$1" -H ":authority: $host" "http://127.0.0.1:$PASS_PORT/" \
        | awk -v w="$want" '/^status codes:/ { print (w == 200 ? $3 : $9) }' ;;
      # A request shape of run.sh (request.lua): wrk runs for a time, not a count, so N
      # requests take about N/200 s under callgrind; any answer but 2xx fails the measurement.
      *) shape_env "$mode" wrk -c 8 -t 1 -d "$(( $1 / 200 + 1 ))s" -s "$HERE/request.lua" "http://127.0.0.1:$PASS_PORT/" \
        | awk '/requests in/ { n = $1 } /Non-2xx/ { bad = $NF } END { print (bad > 0 ? "failed" : n) }' ;;
    esac
  }
  load 500 >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  # only answers of the expected class count; anything else fails the measurement
  n=$(load "$REQUESTS")
  callgrind_control -d "$pid" >/dev/null 2>&1
  case $mode in h1|h2c) ;; *) [ "$n" != failed ] && [ "${n:-0}" -gt 0 ] && REQUESTS=$n ;; esac
  if [ "${n:-0}" != "$REQUESTS" ]; then
    echo "instructions.sh: $host over $mode: $n of $REQUESTS requests got $want" >&2
    exit 1
  fi
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  total=$(callgrind_annotate "$out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
  awk -v t="${total:-0}" -v n="${n:-0}" 'BEGIN { if (n > 0 && t > 0) printf "%.0f", t / n; else printf "n/a" }'
}

# shape_env SHAPE CMD...: CMD with request.lua's environment for one of run.sh's raw shapes
shape_env() {
  local shape=$1; shift
  case $shape in
    post1k)     METHOD=POST BODY=1024 CHUNKED=0 HTTP10=0 REQ_HOST=bench.localhost REQ_PATH=/upload "$@" ;;
    chunked16k) METHOD=POST BODY=16384 CHUNKED=1 HTTP10=0 REQ_HOST=bench.localhost REQ_PATH=/upload "$@" ;;
    http10)     METHOD=GET BODY=0 CHUNKED=0 HTTP10=1 REQ_HOST=bench.localhost REQ_PATH=/ "$@" ;;
    *) echo "instructions.sh: unknown shape $shape" >&2; return 2 ;;
  esac
}

if [ -n "$SHAPES" ]; then
  command -v wrk >/dev/null || { echo "instructions.sh: --shapes needs wrk" >&2; exit 1; }
  echo "| binary | $(echo "$SHAPES" | sed 's/ / | /g') |"
  echo "|---|$(echo "$SHAPES" | sed 's/[^ ]*/---:/g; s/ /|/g')|"
  for bin in "${BINS[@]}"; do
    log "$bin"
    row="| $bin |"
    for shape in $SHAPES; do row="$row $(count "$bin" bench.localhost "$shape") |"; done
    echo "$row"
  done
  echo
  echo "Instructions per request (callgrind, about $REQUESTS requests by wrk after a warm-up, -c 8): the whole process in user space."
  exit 0
fi

echo "| binary | pass-through, HTTP/1.1 | pass-through, h2c | maintenance page, HTTP/1.1 |"
echo "|---|---:|---:|---:|"
for bin in "${BINS[@]}"; do
  [ -x "$bin" ] || { echo "instructions.sh: $bin is not an executable" >&2; exit 1; }
  log "$bin"
  a=$(count "$bin" bench.localhost h1)
  b=$(count "$bin" bench.localhost h2c)
  c=$(count "$bin" maint.localhost h1)
  echo "| $bin | $a | $b | $c |"
done
echo
echo "Instructions per request (callgrind, $REQUESTS requests after 500, -c 8 -m $STREAMS): the whole process in user space."
