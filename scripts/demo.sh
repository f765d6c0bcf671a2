#!/usr/bin/env bash
# Sets up, builds the package and starts the local auth server, which also
# serves the demo page (www/) and the package (pkg/). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
./scripts/build.sh
# The demo calls its protected API through axios: the page imports axios's
# browser build from www/vendor/ (gitignored, copied here from node_modules).
mkdir -p www/vendor
cp node_modules/axios/dist/esm/axios.min.js node_modules/axios/dist/esm/axios.min.js.map www/vendor/
cargo build --release -p passage-auth-server
# The demo app's metadata fields, for the Account card (a config.json of
# your own in the data directory is left as it is).
data="${DATA:-.data}"
mkdir -p "$data"
if [ ! -f "$data/config.json" ]; then
  cat > "$data/config.json" <<'JSON'
{ "apps": { "demo": { "user_metadata_schema": [
  { "field_name": "nickname", "type": "string", "friendly_name": "Nickname" },
  { "field_name": "newsletter", "type": "boolean", "friendly_name": "Newsletter" }
] } } }
JSON
fi
addr="${ADDR:-127.0.0.1:8787}"
# WebAuthn refuses an IP address as the page's host: passkeys need localhost.
echo "Open http://localhost:${addr##*:}/ (not 127.0.0.1: browsers refuse passkeys there)"
# Auth tokens live 30 s, so the page shows a refresh every half minute
# (AUTH_TOKEN_LIFETIME, or a later --auth-token-lifetime, changes that).
exec target/release/passage-auth-server --addr "$addr" --data "$data" --www www --pkg pkg \
  --auth-token-lifetime "${AUTH_TOKEN_LIFETIME:-30}" "$@"
