#!/usr/bin/env bash
# Installs what the build, the demo and the tests need. Idempotent: each step
# is skipped when its tool is already there, so it costs seconds after the
# first run. `--build` installs only what ./scripts/build.sh needs (no
# browser).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# The test command's lints (a minimal rustup profile has neither).
if [ "${1:-}" != --build ]; then
  for component in rustfmt clippy; do
    if ! rustup component list --installed | grep -q "^$component-"; then
      rustup component add "$component"
    fi
  done
fi

# The CLI must match the wasm-bindgen crate exactly; Cargo.toml pins it.
wb_version=$(sed -n 's/^wasm-bindgen = .*"=\([0-9.]*\)".*/\1/p' Cargo.toml)
[ -n "$wb_version" ] || { echo "no pinned wasm-bindgen version in Cargo.toml" >&2; exit 1; }
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $wb_version"; then
  # No --locked: one of the CLI's locked crates is not on the registry.
  cargo install wasm-bindgen-cli --version "$wb_version" --no-default-features
fi

# Debian's Chromium and its driver: the browser of every browser test.
# (Never Debian's binaryen: its wasm-opt 108 writes modules that fail to load;
# wasm-opt comes from npm below.)
if [ "${1:-}" != --build ] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
