// The size figure: each peer bundled with esbuild (minified ESM for the
// browser, importing only the classes its page uses, tree-shaken), and this
// package's files as shipped; each compressed with gzip -9 and brotli 11.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { build } from "esbuild";

export function compressed(bytes) {
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }).length,
  };
}

/** Bundles a peer's entry into `outDir/<id>.js` (the file its page imports). */
export async function bundlePeer(lib, root, outDir) {
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${lib.id}.js`);
  await build({
    stdin: {
      contents: `export { ${lib.bundle.names.join(", ")} } from "${lib.bundle.from}";`,
      resolveDir: root,
      loader: "js",
    },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    treeShaking: true,
    legalComments: "none",
    logLevel: "error",
    outfile,
  });
  return outfile;
}

/** Sizes of a list of files: each, and their total (compressed one by one, as served). */
export function sizeOfFiles(paths, root) {
  const files = paths.map((path) => ({ file: path, ...compressed(readFileSync(join(root, path))) }));
  const total = { raw: 0, gzip: 0, brotli: 0 };
  for (const f of files) for (const k of Object.keys(total)) total[k] += f[k];
  return { files, total };
}
