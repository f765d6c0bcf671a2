// `vite build --config tests/bundlers/vite/vite.config.js --outDir DIR`.
// The package is resolved by its npm name to the built pkg/ (as if it were
// installed from npm). The package is one self-contained module (the wasm
// inside it, no top-level await).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  logLevel: "warn",
  resolve: {
    alias: { "passage-user-wasm": fileURLToPath(new URL("../../../pkg", import.meta.url)) },
  },
});
