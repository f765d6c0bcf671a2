#!/usr/bin/env bash
# Sets up the machine and runs every test: lints, the core and the auth
# server on the host, the wasm's exports in headless Chromium
# (wasm-bindgen-test), the client over simulated tabs and faults, and the
# package end to end in Chromium (Playwright) against the local auth server.
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
# The module as shipped: no_std, its panic handler and allocator.
cargo clippy -p passage-user --target wasm32-unknown-unknown --features shipped --release -- -D warnings

step "host tests: the core and the local auth server"
cargo test --workspace

step "the wasm's exports in headless Chromium (wasm-bindgen-test)"
cargo test -p passage-user --target wasm32-unknown-unknown

step "package build"
./scripts/build.sh
cargo build -p passage-auth-server

step "the client over random schedules of tabs, server and faults (simulated)"
node --test tests/sim/

step "end to end in Chromium (Playwright)"
node --test --test-concurrency=1 tests/e2e/
