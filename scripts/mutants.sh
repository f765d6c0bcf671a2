#!/usr/bin/env bash
# Mutation testing of the core and the client (src/core, src/client) against
# the host tests and the simulation: each mutant must make some test fail.
# Installs cargo-mutants when missing. Arguments go to cargo-mutants, e.g.
#   ./scripts/mutants.sh --shard 1/4      one part of a long run
#   ./scripts/mutants.sh -f src/core/jwt.rs
# Results land in mutants.out/ (caught.txt, missed.txt, timeout.txt).
# Mutants known to be equivalent (no test can tell them from the code) are
# listed, with why, in tests/mutants-equivalent.md.
#
# The simulation runs 200 schedules per world for each mutant (SIM_RUNS,
# default 1,000 in the test command): a mutant's test run takes seconds
# instead of half a minute. A mutant only a rarer schedule would catch
# shows as missed; check it with the default runs before calling it so.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
  cargo install cargo-mutants --locked
fi

export SIM_RUNS=${SIM_RUNS:-200}
exec cargo mutants --package passage-user --test-package passage-user \
  -f 'src/core/**' -f 'src/client/**' --exclude 'src/core/testing.rs' "$@"
