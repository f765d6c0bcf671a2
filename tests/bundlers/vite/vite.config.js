// `vite build --config tests/bundlers/vite/vite.config.js --outDir DIR`.
// The package is resolved by its npm name to the built pkg/ (as if it were
// installed from npm). The entry uses top-level await: build.target must
// be es2022 or later (Vite's default target from Vite 7 on already is).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  logLevel: "warn",
  resolve: {
    alias: { "passage-user-wasm": fileURLToPath(new URL("../../../pkg", import.meta.url)) },
  },
  build: {
    target: "es2022",
  },
});
