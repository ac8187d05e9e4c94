# Shared by the scripts that start Hiatus on loopback (sourced, not run):
#   free_port               a port free on 127.0.0.1 now
#   started OUT [SECONDS]   waits (bounded, default 30 s) until a process writing OUT says
#                           "listening on"; prints OUT and fails when it does not
#   announced OUT WHAT      the address a process announced as "hiatus: WHAT on http://ADDR"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
started() {
  local out=$1 tries=$(( ${2:-30} * 10 ))
  for _ in $(seq 1 "$tries"); do grep -q "listening on" "$out" && return 0; sleep 0.1; done
  cat "$out" >&2
  echo "$out: did not start listening" >&2
  return 1
}
announced() { sed -n "s|^hiatus: $2 on http://\([^ ]*\).*|\1|p" "$1" | head -1; }
