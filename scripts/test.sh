#!/usr/bin/env bash
# Sets up the machine and runs every test: lints, the core, the client over
# simulated tabs and faults, and the auth server on the host; the browser
# adapters in headless Chromium (wasm-bindgen-test); and the package end to
# end in Chromium (Playwright) against the local auth server.
# Exits non-zero if any layer fails.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all --check

step "clippy (host and wasm32)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p passage-user --target wasm32-unknown-unknown --all-targets -- -D warnings

step "host tests: the core, the client in the simulation (tests/sim), the local auth server"
cargo test --workspace

step "the browser adapters in headless Chromium (wasm-bindgen-test)"
cargo test -p passage-user --target wasm32-unknown-unknown

step "package build"
./scripts/build.sh
cargo build -p passage-auth-server

step "end to end in Chromium (Playwright)"
node --test --test-concurrency=1 tests/e2e/
