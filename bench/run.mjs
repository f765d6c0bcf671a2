// The benchmark: this package against the libraries an app would
// otherwise pick, in one run of headless Chromium over pages served on
// 127.0.0.1. Prints a table, writes bench/results/latest.json and
// bench/results/chart.svg. Figures are ratios within one run: absolute times
// on a shared machine are noise. Targets are reported, never asserted.
//
//   node bench/run.mjs [--quick]      (./scripts/bench.sh builds first)
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { chartSvg } from "./chart.mjs";
import { BASELINE, LIBS, ROOT } from "./libs.mjs";
import { startServer } from "./serve.mjs";
import { bundlePeer, sizeOfFiles } from "./size.mjs";
import { fakeJwt, nowS, startAuthServer, wasmMemory } from "../tests/e2e/harness.mjs";

const QUICK = process.argv.includes("--quick");
const TRIALS = QUICK ? 2 : 5; // hot-path trials per library
const SEQ_MS = 300; // each hot-path trial: sequential calls for this long
const CONCURRENT = 1000; // calls per Promise.all round
const CONCURRENT_ROUNDS = 10; // rounds per trial (the trial's figure is their mean)
// Enough fresh contexts per library that the medians settle: the spread of
// one page load on a shared 2-core machine is tens of ms.
const COLD_TRIALS = QUICK ? 3 : 31;
const TABS = 10;
const CALLS_PER_TAB = 100;
const ECON_TRIALS = QUICK ? 1 : 3;
const ECON_LIMIT_MS = 10_000; // a call not settled by then counts as hung
const MEMORY_CALLS = QUICK ? 100_000 : 1_000_000;

// A quick run is a smoke test: it leaves the recorded results alone.
const OUT = join(ROOT, QUICK ? "bench/.build/results" : "bench/results");
const BUILD = join(ROOT, "bench/.build");
const PKG = join(BUILD, "pkg");
const ALL = [...LIBS, BASELINE];
const ours = LIBS.find((l) => l.id === "ours");
const peers = LIBS.filter((l) => l !== ours);

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const log = (...a) => console.error("bench:", ...a);

/** median, min, max (and the trials) of a list of numbers. */
function stats(values) {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return null;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, min: s[0], max: s[s.length - 1], trials: values };
}

const si = (n) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
const ms = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n >= 1 ? n.toFixed(2) : n.toFixed(3));
const kb = (n) => (n / 1000).toFixed(1);
const signed = (n, f) => (n >= 0 ? `+${f(n)}` : `-${f(-n)}`);
const fig = (s, f) => (s ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : "n/a");

function loadWarning(when) {
  const [one] = os.loadavg();
  const cores = os.cpus().length;
  if (one > cores / 2) {
    const text = `WARNING (${when}): load average ${one.toFixed(2)} on ${cores} cores: the machine is busy, absolute figures are noisy (ratios within this run still compare like with like)`;
    console.log(text);
    return text;
  }
  return null;
}

/** page.evaluate with a deadline, so that a stuck page fails the run instead of hanging it. */
async function evaluate(page, what, fn, arg, seconds = 180) {
  let timer;
  const deadline = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: no answer from the page within ${seconds} s`)), seconds * 1000);
  });
  try {
    return await Promise.race([page.evaluate(fn, arg), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function decodeClaims(jwt) {
  try {
    return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
  } catch {
    return {};
  }
}

/** A fresh hour-long session that no library should refresh. */
function freshSession() {
  const iat = nowS();
  const exp = iat + 3600;
  return {
    token: fakeJwt({ sub: "bench-user", iat, exp, aud: ["http://127.0.0.1", "bench"], iss: "http://127.0.0.1/v1/apps/bench", jti: `${Math.random()}` }),
    refreshToken: `bench-refresh-${Math.random().toString(36).slice(2)}`,
    iat,
    exp,
    refreshExp: iat + 86400,
  };
}

// ---------------------------------------------------------------- browser plumbing

let browser;
let site;
let auth;
const blocked = Object.fromEntries(ALL.map((l) => [l.id, 0]));

/** A fresh context whose localStorage holds `items`, with every request leaving 127.0.0.1 aborted and counted. */
async function newContext(lib, items) {
  const context = await browser.newContext({
    storageState: {
      cookies: [],
      origins: [{ origin: site.url, localStorage: Object.entries(items).map(([name, value]) => ({ name, value })) }],
    },
  });
  // A regular expression, not a predicate: Playwright then matches in its
  // own process and lets local requests through without a round trip, which
  // would otherwise add milliseconds to every cold-start request.
  await context.route(LEAVES_LOOPBACK, (route) => {
    blocked[lib.id] = (blocked[lib.id] ?? 0) + 1;
    return route.abort("blockedbyclient");
  });
  return context;
}

const LEAVES_LOOPBACK = /^(https?|wss?):\/\/(?!127\.0\.0\.1[:/])/;

/** Checks the blocker itself: a page's request to another host must be aborted and counted. */
async function checkBlocker() {
  const probe = { id: "blocker-check", page: BASELINE.page };
  const context = await newContext(probe, {});
  const { page } = await openPage(context, probe);
  const reached = await page.evaluate(() => fetch("https://example.com/", { mode: "no-cors" }).then(() => true, () => false));
  await context.close();
  if (reached || blocked[probe.id] !== 1) throw new Error("the blocker of requests leaving 127.0.0.1 does not work");
  delete blocked[probe.id];
}

/** Opens a library's page and waits for its client (and, unless lazy, its first token). */
async function openPage(context, lib, { lazy = false, app = "bench" } = {}) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${new URL(r.url()).pathname}`));
  const query = new URLSearchParams({ authOrigin: auth.url, app });
  if (lazy) query.set("lazy", "");
  await page.goto(`${site.url}/bench/pages/${lib.page}?${query}`);
  try {
    await page.waitForFunction(() => window.bench || window.benchError, null, { timeout: 30_000 });
  } catch (error) {
    throw new Error(`${lib.id}: the page did not get ready (${problems.join("; ") || error.message})`);
  }
  const state = await page.evaluate(() => ({ error: window.benchError, first: window.bench?.first, coldMs: window.bench?.coldMs }));
  if (state.error) throw new Error(`${lib.id}: the page failed: ${state.error}`);
  return { page, ...state };
}

// ---------------------------------------------------------------- the figures

/** Sequential calls per second and 1,000 concurrent calls, trials interleaved across libraries. */
async function hotPath() {
  const open = [];
  for (const lib of ALL) {
    const session = freshSession();
    const context = await newContext(lib, lib.seed(session, site.url));
    const { page, first } = await openPage(context, lib);
    if (first !== session.token) throw new Error(`${lib.id}: the first call did not return the seeded token`);
    await evaluate(page, `${lib.id} warm-up`, (n) => window.bench.seq(n), 100);
    const o = { lib, context, page, seq: [], conc: [], bad: 0, requests: 0 };
    context.on("request", () => o.requests++); // a cache hit needs none
    open.push(o);
  }
  for (let t = 0; t < TRIALS; t++) {
    for (const o of open) {
      const s = await evaluate(o.page, `${o.lib.id} sequential`, (n) => window.bench.seq(n), SEQ_MS);
      const c = await evaluate(o.page, `${o.lib.id} concurrent`, ([n, r]) => window.bench.concurrent(n, r), [CONCURRENT, CONCURRENT_ROUNDS]);
      o.seq.push((s.calls / s.ms) * 1000);
      o.conc.push(c.times.reduce((a, b) => a + b, 0) / c.times.length);
      o.bad += s.bad + c.bad;
    }
    log(`hot path trial ${t + 1}/${TRIALS}`);
  }
  const result = {};
  for (const o of open) {
    result[o.lib.id] = { callsPerSecond: stats(o.seq), concurrent1000Ms: stats(o.conc), wrongResults: o.bad, requests: o.requests };
    await o.context.close();
  }
  return result;
}

/** Navigation start to the first resolved token, in fresh contexts, libraries interleaved. */
async function coldStart() {
  const times = Object.fromEntries(ALL.map((l) => [l.id, []]));
  for (let t = 0; t < COLD_TRIALS; t++) {
    for (const lib of ALL) {
      const session = freshSession();
      const context = await newContext(lib, lib.seed(session, site.url));
      const { first, coldMs } = await openPage(context, lib);
      if (first !== session.token) throw new Error(`${lib.id}: cold start returned another token`);
      times[lib.id].push(coldMs);
      await context.close();
    }
    log(`cold start round ${t + 1}/${COLD_TRIALS}`);
  }
  return Object.fromEntries(ALL.map((l) => [l.id, stats(times[l.id])]));
}

/** JS heap (after a forced GC) and, for this package, the wasm linear memory, before and after MEMORY_CALLS calls. */
async function memory() {
  const result = {};
  for (const lib of ALL) {
    const session = freshSession();
    const context = await newContext(lib, lib.seed(session, site.url));
    const { page } = await openPage(context, lib);
    const cdp = await context.newCDPSession(page);
    const measure = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      const { usedSize } = await cdp.send("Runtime.getHeapUsage");
      return { jsHeap: usedSize, wasm: await wasmMemory(cdp) };
    };
    await evaluate(page, `${lib.id} warm-up`, (n) => window.bench.loop(n), 10_000); // code caches, lazy state
    const before = await measure();
    let bad = 0;
    const t0 = Date.now();
    const chunk = Math.min(MEMORY_CALLS, 100_000);
    for (let done = 0; done < MEMORY_CALLS; done += chunk) bad += (await evaluate(page, `${lib.id} memory loop`, (n) => window.bench.loop(n), chunk)).bad;
    const after = await measure();
    result[lib.id] = { calls: MEMORY_CALLS, before, after, wrongResults: bad, seconds: (Date.now() - t0) / 1000 };
    log(`memory ${lib.id}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await context.close();
  }
  return result;
}


/**
 * Requests per expiry: TABS tabs of one context hold a session that goes
 * stale; then each tab makes CALLS_PER_TAB concurrent calls at the same
 * instant. Counts the refresh requests the server received over the whole
 * trial, and checks that every call got one same new, fresh token.
 */
async function refreshEconomy() {
  const result = {};
  let appSerial = 0;
  for (const lib of LIBS) {
    if (lib.refresh.na) {
      result[lib.id] = { na: lib.refresh.na };
      continue;
    }
    const trials = [];
    for (let t = 0; t < ECON_TRIALS; t++) {
      let session;
      let app = "bench";
      let count;
      if (lib.refresh.via === "auth server") {
        // A real session on the local auth server whose token is stale ~3.6 s after login.
        app = `econ-${lib.id}-${++appSerial}`;
        await auth.admin("PUT", `/admin/apps/${app}`, { auth_token_lifetime: lib === ours ? 4 : 3 });
        const res = await fetch(`${auth.url}/v1/apps/${app}/demo/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identifier: `econ${appSerial}@example.com` }),
        });
        const { auth_result: r } = await res.json();
        const claims = decodeClaims(r.auth_token);
        session = { token: r.auth_token, refreshToken: r.refresh_token, iat: claims.iat, exp: claims.exp, refreshExp: r.refresh_token_expiration };
        await auth.admin("POST", `/admin/stats/reset?app=${app}`);
        count = async () => (await auth.admin("GET", `/admin/stats?app=${app}`)).refresh;
      } else {
        // A stand-in token endpoint; a token that turns stale for this library 3 s from now.
        const iat = nowS();
        const margin = 3600 + iat - lib.staleAt({ iat, exp: iat + 3600 });
        const exp = iat + 3 + Math.ceil(margin);
        session = { ...freshSession(), iat, exp, token: fakeJwt({ sub: "bench-user", iat, exp, jti: `${Math.random()}` }) };
        const start = site.counts[lib.id];
        count = async () => site.counts[lib.id] - start;
      }
      const context = await newContext(lib, lib.seed(session, site.url));
      const pages = [];
      for (let i = 0; i < TABS; i++) pages.push((await openPage(context, lib, { lazy: true, app })).page);
      const wait = lib.staleAt(session) * 1000 + 300 - Date.now();
      if (wait > 0) await sleep(wait);
      const at = Date.now() + 200;
      const tabs = await Promise.all(pages.map((p) => evaluate(p, `${lib.id} refresh`, ([at, n, limit]) => window.bench.fire(at, n, limit), [at, CALLS_PER_TAB, ECON_LIMIT_MS], 60)));
      await sleep(500); // let late requests land before counting
      const requests = await count();
      const tokens = new Set(tabs.flatMap((r) => r.tokens));
      const errors = tabs.flatMap((r) => r.errors);
      const hung = tabs.reduce((n, r) => n + r.hung, 0);
      const now = Date.now() / 1000;
      // What a call handed back that is not a new, fresh token.
      const wrong = [...tokens]
        .map((tok) => (typeof tok !== "string" || tok === "" ? "no token" : tok === session.token ? "the old token" : !(decodeClaims(tok).exp > now) ? "an expired token" : null))
        .filter(Boolean);
      trials.push({ requests, errors: errors.length, errorCodes: [...new Set(errors)], hung, distinctTokens: tokens.size, wrong, slowestTabMs: Math.max(...tabs.map((r) => r.ms)) });
      await context.close();
    }
    result[lib.id] = {
      via: lib.refresh.via,
      requests: stats(trials.map((x) => x.requests)),
      trials,
    };
    log(`refresh economy ${lib.id}: ${trials.map((x) => x.requests).join(", ")} requests`);
  }
  return result;
}

/**
 * Copies pkg/'s JavaScript and wasm (and package.json) into bench/.build/pkg,
 * which the run serves and measures, so that a rebuild of pkg/ while the run
 * goes on cannot mix two builds. Returns the shipped files, entry first.
 */
function snapshotPkg() {
  const src = join(ROOT, "pkg");
  const names = existsSync(join(src, "index.js")) ? readdirSync(src).filter((f) => /\.(m?js|wasm)$/.test(f)) : [];
  if (!names.includes("index.js")) throw new Error("pkg/ has no build: run ./scripts/build.sh");
  rmSync(PKG, { recursive: true, force: true });
  mkdirSync(PKG, { recursive: true });
  for (const f of [...names, "package.json"]) copyFileSync(join(src, f), join(PKG, f));
  return names.sort((a, b) => (a === "index.js" ? -1 : b === "index.js" ? 1 : a < b ? -1 : 1));
}

async function sizes(shipped) {
  const result = {};
  for (const lib of LIBS) {
    if (lib.shipped) {
      const s = sizeOfFiles(shipped.map((f) => `bench/.build/pkg/${f}`), ROOT);
      for (const f of s.files) f.file = f.file.replace("bench/.build/", "");
      result[lib.id] = s;
    } else {
      const file = await bundlePeer(lib, ROOT, BUILD);
      result[lib.id] = { ...sizeOfFiles([file.slice(ROOT.length + 1)], ROOT), bundled: `export { ${lib.bundle.names.join(", ")} } from "${lib.bundle.from}"` };
    }
  }
  return result;
}

// ---------------------------------------------------------------- targets and report

function targets(r) {
  const cps = (id) => r.hotPath[id].callsPerSecond.median;
  const fastestPeer = peers.reduce((a, b) => (cps(b.id) > cps(a.id) ? b : a));
  const coldDelta = r.coldStart.ours.median - r.coldStart[BASELINE.id].median;
  const auth0 = peers.find((p) => p.id === "auth0");
  const auth0Delta = r.coldStart[auth0.id].median - r.coldStart[BASELINE.id].median;
  const econ = r.refreshEconomy.ours.trials;
  const mem = r.memory.ours;
  const heapGrowth = mem.after.jsHeap - mem.before.jsHeap;
  return [
    {
      target: `hot path >= 10x the fastest peer (${fastestPeer.name})`,
      value: `${(cps("ours") / cps(fastestPeer.id)).toFixed(1)}x`,
      met: cps("ours") >= 10 * cps(fastestPeer.id),
    },
    {
      target: "goal: hot path within 2x of the plain-JS baseline",
      value: `${(cps(BASELINE.id) / cps("ours")).toFixed(2)}x slower`,
      met: cps("ours") * 2 >= cps(BASELINE.id),
    },
    {
      target: "total gzip at most 50 KB; the aim is 35 KB",
      value: `${kb(r.size.ours.total.gzip)} KB`,
      met: r.size.ours.total.gzip <= 50_000,
    },
    {
      target: "cold start within 20 ms of the empty-module baseline (medians)",
      value: `${signed(coldDelta, ms)} ms`,
      met: coldDelta <= 20,
    },
    {
      target: `cold start no slower than ${auth0.name} in the same run (medians)`,
      value: `${signed(coldDelta - auth0Delta, ms)} ms against it`,
      met: coldDelta <= auth0Delta,
    },
    {
      target: `exactly 1 refresh per expiry (${TABS} tabs x ${CALLS_PER_TAB} calls), every call answered`,
      value: econ.map((x) => `${x.requests} req${x.errors || x.hung ? ` (${x.errors} failed, ${x.hung} unsettled)` : ""}`).join(", "),
      met: econ.every((x) => x.requests === 1 && x.errors === 0 && x.hung === 0 && x.distinctTokens === 1 && x.wrong.length === 0),
    },
    {
      target: `flat memory over ${si(mem.calls)} calls (wasm unchanged, JS heap +<256 KB)`,
      value: `wasm ${mem.before.wasm === mem.after.wasm ? "unchanged" : `${kb(mem.before.wasm)}->${kb(mem.after.wasm)} KB`}, JS heap ${signed(heapGrowth / 1000, (n) => n.toFixed(1))} KB (plain JS ${signed((r.memory[BASELINE.id].after.jsHeap - r.memory[BASELINE.id].before.jsHeap) / 1000, (n) => n.toFixed(1))} KB)`,
      met: mem.before.wasm === mem.after.wasm && heapGrowth < 256_000,
    },
  ];
}

function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => "| " + cells.map((c, i) => String(c).padEnd(widths[i])).join(" | ") + " |";
  return [line(headers), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...rows.map(line)].join("\n");
}

function report(r) {
  const label = (lib) => (lib.version ? `${lib.name} ${lib.version}` : lib.name);
  const out = [];
  out.push(`Benchmark ${r.date} at ${r.commit ?? "?"} — ${r.machine.cpu}, ${r.machine.cores} cores, Chromium ${r.machine.chromium}, Node ${r.machine.node}`);
  out.push(`median (min–max) over ${TRIALS} hot-path trials, ${COLD_TRIALS} cold starts, ${ECON_TRIALS} refresh trials; load average at start ${r.machine.loadStart.toFixed(2)}, at end ${r.machine.loadEnd.toFixed(2)}`);
  out.push("");
  out.push("Hot path (a fresh token; every result checked)");
  out.push(
    table(
      ["library", "call", "sequential calls/s", `${CONCURRENT} concurrent (ms)`, "wrong results", "requests"],
      ALL.map((l) => {
        const h = r.hotPath[l.id];
        return [label(l), l.call, fig(h.callsPerSecond, si), fig(h.concurrent1000Ms, ms), h.wrongResults, h.requests];
      }),
    ),
  );
  out.push("");
  out.push("Size (peers: esbuild --bundle --minify --format=esm --platform=browser of the classes used; ours: the shipped files)");
  const sizeRows = [];
  for (const l of LIBS) {
    const s = r.size[l.id];
    if (l.shipped) for (const f of s.files) sizeRows.push([`${label(l)}: ${f.file}`, kb(f.raw), kb(f.gzip), kb(f.brotli)]);
    sizeRows.push([l.shipped ? `${label(l)}: total` : `${label(l)} (${l.bundle.names.join(", ")})`, kb(s.total.raw), kb(s.total.gzip), kb(s.total.brotli)]);
  }
  out.push(table(["library", "min KB", "gzip -9 KB", "brotli 11 KB"], sizeRows));
  out.push("");
  out.push("Cold start (navigation start to the first resolved token, fresh context each time)");
  const base = r.coldStart[BASELINE.id].median;
  out.push(
    table(
      ["library", "ms", "median - empty-module median"],
      ALL.map((l) => [l === BASELINE ? "empty-module baseline" : label(l), fig(r.coldStart[l.id], ms), l === BASELINE ? "" : `${signed(r.coldStart[l.id].median - base, ms)} ms`]),
    ),
  );
  out.push("");
  out.push(`Refresh economy (a stale token; ${TABS} tabs of one context x ${CALLS_PER_TAB} concurrent calls at once)`);
  out.push(
    table(
      ["library", "refresh requests per expiry", "failed calls", `unsettled after ${ECON_LIMIT_MS / 1000} s`, "distinct tokens", "server"],
      LIBS.map((l) => {
        const e = r.refreshEconomy[l.id];
        if (e.na) return [label(l), "n/a (below)", "", "", "", ""];
        return [
          label(l),
          fig(e.requests, (n) => n.toFixed(0)),
          e.trials.map((x) => x.errors).join(", "),
          e.trials.map((x) => x.hung).join(", "),
          e.trials.map((x) => x.distinctTokens + (x.wrong.length ? ` (incl. ${x.wrong.join(", ")})` : "")).join(", "),
          e.via,
        ];
      }),
    ),
  );
  for (const l of LIBS) {
    if (r.refreshEconomy[l.id].na) out.push(`  ${l.name}: n/a: ${r.refreshEconomy[l.id].na}`);
    const codes = [...new Set((r.refreshEconomy[l.id].trials ?? []).flatMap((x) => x.errorCodes))];
    if (codes.length) out.push(`  ${l.name} errors: ${codes.join("; ")}`);
  }
  out.push("");
  out.push(`Memory (after a forced GC, before and after ${si(MEMORY_CALLS)} sequential calls)`);
  out.push(
    table(
      ["library", "JS heap before KB", "JS heap after KB", "wasm memory before KB", "after KB", "wrong results"],
      ALL.map((l) => {
        const m = r.memory[l.id];
        return [label(l), kb(m.before.jsHeap), kb(m.after.jsHeap), m.before.wasm == null ? "n/a" : kb(m.before.wasm), m.after.wasm == null ? "n/a" : kb(m.after.wasm), m.wrongResults];
      }),
    ),
  );
  out.push("");
  out.push(`Requests blocked (leaving 127.0.0.1): ${ALL.map((l) => `${l.id} ${r.blocked[l.id]}`).join(", ")}`);
  out.push("");
  out.push("Targets of the package (reported, not asserted)");
  out.push(table(["target", "this run", "met"], r.targets.map((t) => [t.target, t.value, t.met ? "yes" : "NO"])));
  if (r.warnings.length) out.push("", ...r.warnings);
  return out.join("\n");
}

function chart(r) {
  const label = (l) => (l === BASELINE ? "plain JS baseline" : l === ours ? "passage-user-wasm" : l.name);
  return chartSvg({
    title: "getAuthToken() and its equivalents: speed and size",
    subtitle: `${r.date.slice(0, 10)}, headless Chromium ${r.machine.chromium}, ${r.machine.cores} cores; medians of ${TRIALS} trials`,
    panels: [
      {
        title: "hot path, sequential awaited calls per second (more is better)",
        rows: ALL.map((l) => ({ label: label(l), value: r.hotPath[l.id].callsPerSecond.median, text: si(r.hotPath[l.id].callsPerSecond.median), highlight: l === ours, muted: l === BASELINE })),
      },
      {
        title: "total size, gzip -9 KB (less is better)",
        rows: LIBS.map((l) => ({ label: label(l), value: r.size[l.id].total.gzip / 1000, text: `${kb(r.size[l.id].total.gzip)} KB`, highlight: l === ours })),
        note: "ours: the shipped module (entry, glue and the wasm inside); peers: esbuild bundles",
      },
    ],
  });
}

// ---------------------------------------------------------------- main

async function main() {
  const warnings = [];
  const loadStart = os.loadavg()[0];
  const w = loadWarning("start");
  if (w) warnings.push(w);
  const t0 = Date.now();

  const shipped = snapshotPkg();
  ours.version = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8")).version;
  log("sizes");
  const size = await sizes(shipped);
  site = await startServer(ROOT, { pkgDir: PKG });
  auth = await startAuthServer([], mkdtempSync(join(os.tmpdir(), "psg-bench-")), {
    bin: join(ROOT, "target/release/passage-auth-server"),
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    await checkBlocker();
    log("hot path");
    const hot = await hotPath();
    log("cold start");
    const cold = await coldStart();
    log("refresh economy");
    const econ = await refreshEconomy();
    log("memory");
    const mem = await memory();
    const w2 = loadWarning("end");
    if (w2) warnings.push(w2);
    let commit = null;
    try {
      commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
      // pkg/ is built from the working tree: say so when it differs from the commit.
      if (execFileSync("git", ["status", "--porcelain", "--", "src", "pkg-template", "Cargo.toml", "Cargo.lock", "scripts/build.sh"], { cwd: ROOT, encoding: "utf8" }).trim()) commit += "+uncommitted";
    } catch {}
    const r = {
      date: new Date().toISOString(),
      commit,
      seconds: (Date.now() - t0) / 1000,
      machine: {
        cpu: os.cpus()[0]?.model?.trim() ?? "unknown",
        cores: os.cpus().length,
        memoryGB: +(os.totalmem() / 2 ** 30).toFixed(1),
        os: `${os.type()} ${os.release()}`,
        node: process.version,
        chromium: browser.version(),
        loadStart,
        loadEnd: os.loadavg()[0],
      },
      settings: { TRIALS, SEQ_MS, CONCURRENT, CONCURRENT_ROUNDS, COLD_TRIALS, TABS, CALLS_PER_TAB, ECON_TRIALS, MEMORY_CALLS, quick: QUICK },
      libraries: ALL.map((l) => ({ id: l.id, name: l.name, version: l.version, call: l.call, bundled: l.bundle ? l.bundle.names : undefined })),
      hotPath: hot,
      size,
      coldStart: cold,
      refreshEconomy: econ,
      memory: mem,
      blocked,
      warnings,
    };
    r.targets = targets(r);
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, "latest.json"), JSON.stringify(r, null, 2) + "\n");
    writeFileSync(join(OUT, "chart.svg"), chart(r));
    console.log(report(r));
    const out = OUT.slice(ROOT.length + 1);
    console.log(`\nwrote ${out}/latest.json and ${out}/chart.svg (${r.seconds.toFixed(0)} s)`);
  } finally {
    await browser.close();
    await auth.stop();
    rmSync(auth.dataDir, { recursive: true, force: true });
    await site.close();
  }
}

main().catch((error) => {
  console.error("bench: could not run:", error?.stack ?? error);
  process.exit(1);
});
