#!/usr/bin/env bash
# Builds the npm package into pkg/: the wasm (size-optimised), its
# wasm-bindgen glue, the entry, the types and package.json.
set -euo pipefail
cd "$(dirname "$0")/.."

# The wasm target, wasm-bindgen-cli and the npm tools (wasm-opt, esbuild):
# seconds when they are installed already.
./scripts/setup.sh --build

# A 64 KiB stack instead of 1 MiB: nothing in the client recurses deeply
# (the JSON reader is bounded), and every page would otherwise reserve the
# rest. Paths of this machine (the checkout, cargo's registry) are mapped to
# machine-free ones: panic locations ship in the wasm.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
RUSTFLAGS="-C link-arg=-zstack-size=65536 --remap-path-prefix=$PWD=. \
--remap-path-prefix=$cargo_home/registry/src=/crates --remap-path-prefix=$cargo_home/git/checkouts=/git" \
  cargo build --release --target wasm32-unknown-unknown -p passage-user
rm -rf pkg target/pkg-src
wasm-bindgen --target web --no-typescript --out-dir target/pkg-src --out-name passage_user \
  target/wasm32-unknown-unknown/release/passage_user.wasm
cp pkg-template/*.js target/pkg-src/
# The Rust side imports PassageError from its copy of errors.js (a
# wasm-bindgen snippet); the entry exports the same class, so the snippet
# re-exports the entry's module rather than defining a second class.
for snippet in target/pkg-src/snippets/*/pkg-template/errors.js; do
  echo 'export * from "../../../errors.js";' > "$snippet"
done
mkdir -p pkg

# The features Rust's wasm32 target emits by default.
node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers --strip-target-features \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  --converge target/pkg-src/passage_user_bg.wasm -o target/pkg-src/passage_user_opt.wasm

# A module importing from "env" means something linked a C or std-only
# symbol; it would fail to instantiate in the browser.
node -e '
const m = new WebAssembly.Module(require("fs").readFileSync("target/pkg-src/passage_user_opt.wasm"));
const env = WebAssembly.Module.imports(m).filter((i) => i.module === "env");
if (env.length) { console.error("wasm imports from env:", env.map((i) => i.name).join(", ")); process.exit(1); }
'

# Nothing that must not ship: float formatting (read from the names the
# wasm still has before wasm-opt), or a path of this machine.
node scripts/check-wasm.mjs target/pkg-src/passage_user_bg.wasm \
  target/pkg-src/passage_user_opt.wasm target/pkg-src/passage_user.js

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
sed "s/@VERSION@/$version/" pkg-template/package.json > pkg/package.json
cp pkg-template/index.d.ts pkg/
# Every byte ships to every page load: the entry, the wasm-bindgen glue and
# the wasm itself go out as one minified module (no request for the wasm
# once the module has loaded).
node_modules/.bin/esbuild target/pkg-src/index.js --bundle --minify --format=esm --target=es2022 \
  --log-level=warning --outfile=pkg/index.js
node scripts/embed-wasm.mjs target/pkg-src/passage_user_opt.wasm pkg/index.js
cp pkg-template/README.md pkg/ 2>/dev/null || true
rm -f pkg/.gitignore
# The size guard: what ships (the one module, gzip -9 as served) must stay
# within the budget in scripts/size-budget, so that no
# dependency or change bloats every page load unnoticed. Lower the budget as
# the package shrinks.
# (Compressed as the benchmark does: Node's zlib, gzip level 9.)
gz() { node -e 'process.stdout.write(String(require("zlib").gzipSync(require("fs").readFileSync(process.argv[1]), { level: 9 }).length))' "$1"; }
total=$(gz pkg/index.js)
budget=$(tr -d '[:space:]' < scripts/size-budget)
echo "pkg/index.js: $(wc -c < pkg/index.js) bytes, with a $(wc -c < target/pkg-src/passage_user_opt.wasm)-byte wasm;" \
  "gzip $total bytes, budget $budget"
if [ "$total" -gt "$budget" ]; then
  echo "the package grew past its size budget (scripts/size-budget): $total > $budget bytes gzip" >&2
  exit 1
fi
