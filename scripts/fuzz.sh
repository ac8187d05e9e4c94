#!/usr/bin/env bash
# Fuzzes the parsers (fuzz/, README's "Fuzzing"): builds every cargo-fuzz target, then runs each
# for SECONDS (default 60) from the seed corpus, one after the other. Exits non-zero when any
# target crashed, failed one of its checks or hung; the input is in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# What a run adds to the corpus stays in fuzz/work/ (not committed; the next run starts from it
# too). Inputs in fuzz/regressions/<target>/ are run first, every time.
#
# The toolchain is stable, so no sanitizer by default (`-Zsanitizer` is nightly-only; the
# library is `forbid(unsafe_code)`, so a sanitizer would only watch dependencies).
# FUZZ_SANITIZER=address builds with AddressSanitizer through RUSTC_BOOTSTRAP.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
case $secs in '' | *[!0-9]*)
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
  ;;
esac
# The version this was written against; its command line is what the script relies on.
CARGO_FUZZ_VERSION=0.13.2
sanitizer=${FUZZ_SANITIZER:-none}

scripts/bootstrap.sh
# libFuzzer is C++, compiled by libfuzzer-sys's build script.
scripts/need.sh c++:build-essential
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
if [ "$sanitizer" != none ]; then
  export RUSTC_BOOTSTRAP=1
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi

start=$(date +%s)
echo "== fuzz: building the targets (sanitizer: $sanitizer)"
cargo fuzz build --fuzz-dir fuzz --sanitizer "$sanitizer"
echo "== fuzz: built in $(($(date +%s) - start))s"

mkdir -p fuzz/work/logs
failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/work/corpus/$t"
  corpora=("fuzz/work/corpus/$t" "fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && corpora+=("fuzz/regressions/$t")
  log="fuzz/work/logs/$t.log"
  echo "== fuzz: $t for ${secs}s"
  # New inputs go to the first corpus folder only. -timeout: an input that takes 10 s is a
  # hang. The outer timeout is a backstop should libFuzzer itself never stop.
  if timeout -k 10 $((secs + 600)) cargo fuzz run --fuzz-dir fuzz --sanitizer "$sanitizer" "$t" "${corpora[@]}" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$t")
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
  echo "   $status: ${runs:-?} runs, ${speed:-?}/s, ${added:-?} new inputs, ${cov:-cov: ?} (log: $log)"
  if [ "$status" = FAILED ]; then
    { grep -E -A1 "panicked at|^error" "$log" | head -4 || true; grep -E "ERROR: libFuzzer|Test unit written" "$log" || true; } |
      sed 's/^/   /'
  fi
done

echo "== fuzz: done in $(($(date +%s) - start))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/; reproduce with" \
    "cargo fuzz run --fuzz-dir fuzz --sanitizer $sanitizer TARGET fuzz/artifacts/TARGET/FILE)" >&2
  exit 1
fi
