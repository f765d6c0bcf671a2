// Puts the wasm into the bundled entry as a string literal, one character
// per byte, in place of the "@@WASM@@" placeholder of pkg-template/index.js:
//
//   node scripts/embed-wasm.mjs <module.wasm> <bundle.js>
//
// A module script is always read as UTF-8, so characters U+0000 to U+00FF
// are one or two bytes each, and gzip still sees the module's own byte
// patterns (base64 hides them: 11.5 KB of gzip against 9.3 KB). Each byte is
// XORed with KEY first, which moves the module's most frequent bytes off the
// ones a string literal must escape or spell in two bytes.
import { readFileSync, writeFileSync } from "node:fs";

export const KEY = 112;

const [wasmPath, bundlePath] = process.argv.slice(2);
const bytes = readFileSync(wasmPath).map((b) => b ^ KEY);
let literal = '"';
for (let i = 0; i < bytes.length; i++) {
  const c = bytes[i];
  if (c === 0x22) literal += '\\"';
  else if (c === 0x5c) literal += "\\\\";
  else if (c === 0x0a) literal += "\\n";
  else if (c === 0x0d) literal += "\\r";
  // \0 before a digit would read as an octal escape, refused in modules.
  else if (c === 0x00) literal += bytes[i + 1] >= 0x30 && bytes[i + 1] <= 0x39 ? "\\x00" : "\\0";
  else literal += String.fromCharCode(c);
}
literal += '"';

const bundle = readFileSync(bundlePath, "utf8");
const parts = bundle.split('"@@WASM@@"');
if (parts.length !== 2) throw new Error(`expected one "@@WASM@@" placeholder in ${bundlePath}, found ${parts.length - 1}`);
writeFileSync(bundlePath, parts[0] + literal + parts[1]);

// What the browser decodes must be the module, byte for byte.
const decoded = Function(`return ${literal}`)();
const original = readFileSync(wasmPath);
if (decoded.length !== original.length || [...decoded].some((ch, i) => (ch.charCodeAt(0) ^ KEY) !== original[i])) {
  throw new Error("the embedded string does not decode to the wasm");
}
