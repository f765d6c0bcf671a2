// `webpack --config tests/bundlers/webpack/webpack.config.js --env out=DIR`.
// The package is resolved by its npm name to the built pkg/ (as if it were
// installed from npm). The package is one self-contained module (the wasm
// inside it, no top-level await): no loader, no plugin, no experiments.
import { fileURLToPath } from "node:url";

export default (env = {}) => ({
  mode: "production",
  context: fileURLToPath(new URL(".", import.meta.url)),
  entry: "./main.js",
  output: {
    path: env.out ?? fileURLToPath(new URL("./dist", import.meta.url)),
    filename: "main.js",
    clean: true,
  },
  resolve: {
    alias: { "passage-user-wasm": fileURLToPath(new URL("../../../pkg", import.meta.url)) },
  },
  performance: { hints: false },
});
