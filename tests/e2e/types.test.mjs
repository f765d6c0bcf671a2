// The package's types as a TypeScript app sees them: tests/types/usage.ts
// uses every export in strict mode (with a real axios instance) and must
// type-check; its `@ts-expect-error` lines must each be an error, so the
// check cannot pass vacuously; and no `any` appears in the public surface.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";

const TSC = join(ROOT, "node_modules/.bin/tsc");
const DIR = join(ROOT, "tests/types");

/** Runs tsc --noEmit on a tsconfig; resolves {code, output}. */
function tsc(project) {
  return new Promise((ok) => {
    execFile(TSC, ["--noEmit", "--pretty", "false", "-p", project], { cwd: ROOT, timeout: 120_000 }, (error, stdout, stderr) => {
      ok({ code: error ? (error.code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

test("the typed usage file type-checks in strict mode against pkg/index.d.ts", async () => {
  const r = await tsc(join(DIR, "tsconfig.json"));
  assert.equal(r.code, 0, r.output);
});

test("each @ts-expect-error line is a real type error", async () => {
  // The same file without the directives, beside the original so the
  // tsconfig's paths still apply: one error per directive, on its line.
  const source = readFileSync(join(DIR, "usage.ts"), "utf8");
  const expected = [];
  const probe = source
    .split("\n")
    .map((line, i) => {
      if (!line.trim().startsWith("// @ts-expect-error")) return line;
      expected.push(i + 2); // the line after the directive (1-based)
      return "// (expect error)";
    })
    .join("\n");
  const tmp = mkdtempSync(join(DIR, ".probe-"));
  try {
    writeFileSync(join(tmp, "usage.ts"), probe);
    const config = JSON.parse(
      readFileSync(join(DIR, "tsconfig.json"), "utf8")
        .split("\n")
        .filter((l) => !l.trim().startsWith("//"))
        .join("\n"),
    );
    config.compilerOptions.paths = { "passage-user-wasm": ["../../../pkg/index.d.ts"] };
    writeFileSync(join(tmp, "tsconfig.json"), JSON.stringify(config));
    const r = await tsc(join(tmp, "tsconfig.json"));
    const lines = [...new Set([...r.output.matchAll(/usage\.ts\((\d+),\d+\): error TS\d+/g)].map((m) => Number(m[1])))];
    assert.ok(expected.length >= 15, `only ${expected.length} directives`);
    assert.deepEqual(lines.sort((a, b) => a - b), expected, r.output);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("the public surface has no `any`", () => {
  const dts = readFileSync(join(ROOT, "pkg/index.d.ts"), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
  // (The string literal "any" of authenticatorAttachment is not the type.)
  assert.doesNotMatch(dts.replace(/"[^"\n]*"/g, '""'), /\bany\b/);
  assert.equal(dts, readFileSync(join(ROOT, "pkg-template/index.d.ts"), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ""), "pkg/ is built from the current template");
});
