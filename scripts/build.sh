#!/usr/bin/env bash
# Builds the npm package into pkg/: the wasm (size-optimised), its
# wasm-bindgen glue, the entry, the types and package.json.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --target wasm32-unknown-unknown -p passage-user
rm -rf pkg
wasm-bindgen --target web --no-typescript --out-dir pkg --out-name passage_user \
  target/wasm32-unknown-unknown/release/passage_user.wasm

# The features Rust's wasm32 target emits by default.
node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/passage_user_bg.wasm -o pkg/passage_user_bg.wasm

# A module importing from "env" means something linked a C or std-only
# symbol; it would fail to instantiate in the browser.
node -e '
const m = new WebAssembly.Module(require("fs").readFileSync("pkg/passage_user_bg.wasm"));
const env = WebAssembly.Module.imports(m).filter((i) => i.module === "env");
if (env.length) { console.error("wasm imports from env:", env.map((i) => i.name).join(", ")); process.exit(1); }
'

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
sed "s/@VERSION@/$version/" pkg-template/package.json > pkg/package.json
cp pkg-template/index.d.ts pkg/
# Every byte ships to every page load: the entry and the wasm-bindgen glue go
# out as one minified module (one request fewer before the wasm is fetched).
cp pkg-template/index.js pkg/entry.js
node_modules/.bin/esbuild pkg/entry.js --bundle --minify --format=esm --target=es2022 \
  --log-level=warning --outfile=pkg/index.js
rm pkg/entry.js pkg/passage_user.js
cp pkg-template/README.md pkg/ 2>/dev/null || true
rm -f pkg/.gitignore
echo "pkg/: $(wc -c < pkg/passage_user_bg.wasm) bytes wasm, $(cat pkg/*.js | wc -c) bytes js"
