#!/usr/bin/env bash
# Fuzzes every parser of untrusted input, client and server, with cargo-fuzz
# (libFuzzer): each target runs SECONDS (default 60), one after the other,
# growing its corpus in fuzz/corpus/TARGET; then a summary per target.
#
#   ./scripts/fuzz.sh [SECONDS] [TARGET...]
#   ./scripts/fuzz.sh minimize [TARGET...]
#
# Installs what it needs when missing: the nightly toolchain (for fuzzing
# only; the build and the tests stay on stable) and cargo-fuzz. Targets are
# built with debug assertions and overflow checks (-a) and no sanitizer
# (-s none: the code under test is safe Rust, and a plain build runs more
# inputs per second). A crash leaves its input in fuzz/artifacts/TARGET;
# once fixed, commit it there: the stable replay tests
# (tests/fuzz_corpus.rs, server/tests/fuzz_corpus.rs) run every corpus and
# artifact file on each `cargo test`. Exits non-zero if any target crashed.
#
# `minimize` shrinks grown corpora before a commit: it keeps the named
# seeds, and of the rest only inputs that reach an edge nothing else
# reaches (libFuzzer's merge, hit counts ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

minimize=0
if [[ ${1:-} == minimize ]]; then
  minimize=1
  seconds=0
  shift
else
  seconds=${1:-60}
  if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS] [TARGET...] | $0 minimize [TARGET...]" >&2
    exit 2
  fi
  shift || true
fi

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "==> installing the nightly toolchain (fuzzing only)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz
fi

if (($# > 0)); then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

logs=fuzz/target/logs
mkdir -p "$logs"
flags=(-a -s none)
echo "==> building the targets"
cargo +nightly fuzz build "${flags[@]}"

if ((minimize)); then
  bin="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"
  for target in "${targets[@]}"; do
    corpus=fuzz/corpus/$target
    kept=$(mktemp -d)
    find "$corpus" -type f -regextype posix-extended ! -regex '.*/[0-9a-f]{40}' \
      -exec cp {} "$kept/" \;
    "$bin/$target" -merge=1 -use_counters=0 -timeout=10 "$kept" "$corpus" \
      >"$logs/$target.minimize.log" 2>&1
    before=$(find "$corpus" -type f | wc -l)
    rm -rf "$corpus"
    mv "$kept" "$corpus"
    chmod 755 "$corpus"
    echo "$target: $before inputs -> $(find "$corpus" -type f | wc -l)," \
      "$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {print s}') bytes"
  done
  exit 0
fi

summary=()
crashed=0
for target in "${targets[@]}"; do
  log="$logs/$target.log"
  echo "==> $target: ${seconds}s (log: $log)"
  status=0
  start=$(date +%s)
  cargo +nightly fuzz run "${flags[@]}" "$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  took=$(($(date +%s) - start))
  # The last status line: "#EXECS DONE cov: N ft: N corp: FILES/SIZE ..."
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([^ ]+).*/\1/p' <<<"$last")
  crashes=0
  if ((status != 0)); then
    crashes=1
    crashed=1
    grep -E 'Test unit written to|panicked at' "$log" | sed 's/^/    /' || true
  fi
  summary+=("$(printf '%-16s %6ss %12s %8s %6s %7s %12s %7s' \
    "$target" "$took" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes")")
done

echo
printf '%-16s %7s %12s %8s %6s %7s %12s %7s\n' \
  target time executions exec/s cov ft corpus crashes
printf '%s\n' "${summary[@]}"
exit "$crashed"
