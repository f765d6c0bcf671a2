// What must never ship, checked on each build:
// - float formatting (core::fmt::float, flt2dec): read from the function
//   names of the wasm before wasm-opt strips them;
// - an absolute path of the machine that built it (its home, the checkout,
//   a cargo registry): read from the shipped module and wasm.
// Usage: node scripts/check-wasm.mjs NAMED.wasm SHIPPED.wasm SHIPPED.js
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";

const [named, ...shipped] = process.argv.slice(2);
const failures = [];

// Function names, mangled (`_ZN4core3num7flt2dec...`) or not.
const names = readFileSync(named).toString("latin1");
if (!names.includes("passage_user")) failures.push(`${named} has no function names to read`);
for (const pattern of [/flt2dec/, /float_to_decimal/, /fmt(::|\d+)float/, /float_to_exponential/]) {
  const hit = names.match(new RegExp(`[\\w:$.]*${pattern.source}[\\w:$.]*`));
  if (hit) failures.push(`the wasm links float formatting: ${hit[0].slice(0, 120)}`);
}

const machine = [homedir(), resolve("."), "/.cargo/", "/registry/src/", "/.rustup/"].filter((p) => p.length > 1);
for (const file of shipped) {
  const text = readFileSync(file).toString("latin1");
  for (const path of machine) {
    const at = text.indexOf(path);
    if (at >= 0) failures.push(`${file} holds a path of the build machine: ${text.slice(at, at + 80).replace(/[^ -~]/g, "?")}`);
  }
}

if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
