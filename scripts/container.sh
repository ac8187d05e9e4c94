#!/usr/bin/env bash
# The container image (packaging/Dockerfile):
#   scripts/container.sh          builds it with docker or podman and smoke-tests it: --version
#                                 names the revision, it runs as a user other than root, answers
#                                 on 8080 and stops on SIGTERM. Without a working engine it says
#                                 so and does what --check does.
#   scripts/container.sh --check  no image: the Dockerfile checked as text (stages, the non-root
#                                 user, what it copies exists), and its run stage rehearsed on
#                                 this machine: the debug binary with the image's configuration,
#                                 as the image's user (65532), smoke-tested the same way.
# The rehearsal proves the configuration, the command line and the user work; not the image's
# base or build stage, which only an engine (and a registry to pull from) can.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
dockerfile=packaging/Dockerfile
mode=image
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: scripts/container.sh [--check]" >&2; exit 2 ;;
esac
fail() { echo "container: $*" >&2; exit 1; }
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

# The smoke test of a running gateway at ADDR: the unknown-host page (421) and nothing else
# it could be mistaken for.
smoke() {
  local addr=$1 code
  for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: nobody.example' "http://$addr/" || true)
    [ "$code" = 421 ] && return 0
    sleep 0.1
  done
  fail "http://$addr/ answered ${code:-nothing} (expected 421, the unknown-host page)"
}

engine=""
if [ "$mode" = image ]; then
  for e in docker podman; do
    if command -v "$e" >/dev/null && "$e" info >/dev/null 2>&1; then engine=$e; break; fi
  done
  if [ -z "$engine" ]; then
    echo "container: no working docker or podman engine here (docker's client alone cannot build);"
    echo "container: the image is not built; checking the Dockerfile and rehearsing its run stage instead"
    mode=check
  fi
fi

if [ "$mode" = image ]; then
  image=hiatus:$revision
  "$engine" build -f "$dockerfile" --build-arg "HIATUS_GIT_REVISION=$revision" -t "$image" .
  "$engine" run --rm "$image" --version | grep -qx "hiatus .* (revision $revision)" || fail "--version"
  user=$("$engine" image inspect --format '{{.Config.User}}' "$image")
  case "$user" in "" | root | 0 | 0:*) fail "the image runs as root ($user)" ;; esac
  port=$(free_port)
  id=$("$engine" run -d --rm -p "127.0.0.1:$port:8080" "$image")
  trap '"$engine" rm -f "$id" >/dev/null 2>&1 || true' EXIT
  smoke "127.0.0.1:$port"
  timeout 30 "$engine" stop "$id" >/dev/null || fail "the container did not stop on SIGTERM"
  echo "container: $image built and smoke-tested with $engine ($(du -h <("$engine" image save "$image") | cut -f1) saved)"
  exit 0
fi

# --- the Dockerfile as text ---
# Instructions one per logical line (continuations joined), comments and the parser directive
# dropped.
instructions=$(sed -e 's/\r$//' "$dockerfile" | grep -v '^\s*#' | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep -v '^\s*$')
known='FROM|RUN|CMD|LABEL|EXPOSE|ENV|ADD|COPY|ENTRYPOINT|VOLUME|USER|WORKDIR|ARG|ONBUILD|STOPSIGNAL|HEALTHCHECK|SHELL'
bad=$(grep -viE "^\s*($known)\s" <<<"$instructions" || true)
[ -z "$bad" ] || fail "$dockerfile: not an instruction: $bad"
stages=$(grep -iE '^\s*FROM\s' <<<"$instructions" | sed -nE 's/.*\s[Aa][Ss]\s+([A-Za-z0-9_.-]+)\s*$/\1/p')
[ "$(grep -ciE '^\s*FROM\s' <<<"$instructions")" -ge 2 ] || fail "$dockerfile: not multi-stage"
for from in $(grep -oiE -- '--from=[^ ]+' <<<"$instructions" | cut -d= -f2); do
  grep -qx "$from" <<<"$stages" || fail "$dockerfile: COPY --from=$from names no stage (stages: $stages)"
done
last_user=$(sed -n '/^\s*FROM\s/,$p' <<<"$instructions" | awk 'toupper($1)=="FROM"{u=""} toupper($1)=="USER"{u=$2} END{print u}')
case "$last_user" in "" | root | 0 | 0:*) fail "$dockerfile: the last stage runs as root (USER '${last_user}')" ;; esac
grep -qiE '^\s*ENTRYPOINT\s+\["/usr/bin/hiatus"\]' <<<"$instructions" || fail "$dockerfile: ENTRYPOINT is not the binary"
for path in packaging/container.toml Cargo.lock build.rs; do
  [ -e "$path" ] || fail "$dockerfile copies $path, which is missing"
done
if grep -qxE 'target|\.git' .dockerignore; then :; else fail ".dockerignore must keep target and .git out of the context"; fi
echo "container: $dockerfile: $(wc -l <<<"$instructions") instructions, stages: $(tr '\n' ' ' <<<"$stages"); runs as $last_user"

# --- the run stage rehearsed: the image's configuration and command, as its user ---
scripts/need.sh curl setpriv:util-linux
cargo build --locked --quiet
binary=${CARGO_TARGET_DIR:-target}/debug/hiatus
uid=${last_user%%:*}
work=$(mktemp -d)
chmod 0755 "$work"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/state"
chown "$uid:$uid" "$work/state"
port=$(free_port)
admin=$(free_port)
# The image's file with only the addresses and the state folder moved to this machine's.
sed -e "s|0.0.0.0:8080|127.0.0.1:$port|" -e "s|127.0.0.1:9090|127.0.0.1:$admin|" \
  -e "s|/var/lib/hiatus|$work/state|" packaging/container.toml >"$work/hiatus.toml"
chmod 0644 "$work/hiatus.toml"
cmd=$(sed -nE 's/^\s*CMD\s+\[(.*)\]\s*$/\1/p' <<<"$instructions" | tr -d '"' | tr ',' ' ')
[ "$cmd" = "run  --config  /etc/hiatus/hiatus.toml" ] || fail "$dockerfile: CMD is not what is rehearsed: $cmd"
setpriv --reuid "$uid" --regid "$uid" --clear-groups "$binary" --version | grep -qx "hiatus .* (revision [^ ]*)" ||
  fail "--version as $uid"
setpriv --reuid "$uid" --regid "$uid" --clear-groups "$binary" run --config "$work/hiatus.toml" >"$work/out" 2>&1 &
pid=$!
started "$work/out" 60
smoke "127.0.0.1:$port"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/readyz")" = 200 ] || fail "/readyz"
[ "$(ps -o uid= -p "$pid" | tr -d ' ')" = "$uid" ] || fail "the gateway does not run as $uid"
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then fail "the gateway did not stop within 10 s of SIGTERM"; fi
wait "$pid" || fail "the gateway's exit after SIGTERM was not 0: $(cat "$work/out")"
pid=""
echo "container: the run stage rehearsed as uid $uid: started, answered 421 for an unknown host, ready, stopped on SIGTERM"
