#!/usr/bin/env bash
# The benchmark (issue 7): this package against passage-js, auth0-spa-js,
# supabase auth-js and oidc-client-ts in headless Chromium. Not part of
# ./scripts/test.sh: it reports figures and targets, and exits non-zero only
# when it could not run. Writes bench/results/latest.json and chart.svg.
#
#   ./scripts/bench.sh            build, then the full run (a few minutes)
#   ./scripts/bench.sh --quick    fewer trials, 10^5 calls for memory; writes
#                                 bench/.build/results/ instead
#   BENCH_NO_BUILD=1 ./scripts/bench.sh    measure pkg/ as it is
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
  ./scripts/setup.sh
  ./scripts/build.sh
fi
cargo build --release -p passage-auth-server
node bench/run.mjs "$@"
