// `webpack --config tests/bundlers/webpack/webpack.config.js --env out=DIR`.
// The package is resolved by its npm name to the built pkg/ (as if it were
// installed from npm). webpack 5 handles the entry's top-level await (on by
// default since 5.83; `experiments: { topLevelAwait: true }` before that)
// and `new URL("./passage_user_bg.wasm", import.meta.url)` (an asset
// module) with no loader and no plugin.
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
