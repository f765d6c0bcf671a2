#!/usr/bin/env bash
# Sets up, builds the package and starts the local auth server, which also
# serves the demo page (www/) and the package (pkg/). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
./scripts/build.sh
cargo build --release -p passage-auth-server
exec target/release/passage-auth-server --addr "${ADDR:-127.0.0.1:8787}" --data "${DATA:-.data}" --www www --pkg pkg "$@"
