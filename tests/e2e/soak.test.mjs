// Soak: one page makes 10^6 getAuthToken() calls, 10^4 authGuard() calls
// (into the wasm each time) and 1,000 refresh cycles against the local auth
// server, with the JS heap (after a forced GC, over CDP) and the wasm memory
// sampled before and after each phase. Only a generous bound is asserted (no
// phase grows either by 10 MB or more); the figures are printed.
//
// The 1,000 refresh cycles run with Web Locks, the path every browser
// takes; a shorter run with Web Locks hidden soaks the fallback too.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { installHelpers, newApp, openPage, startAll, stopAll, wasmMemory } from "./harness.mjs";

let browser, site, auth;
before(async () => ({ browser, site, auth } = await startAll()));
after(() => stopAll({ browser, site, auth }));

const MB = 1024 * 1024;
const LIMIT = 10 * MB;

/** Hides navigator.locks while `window.noLocks` is true. */
function lockSwitch() {
  const real = Object.getOwnPropertyDescriptor(Navigator.prototype, "locks").get;
  window.noLocks = false;
  Object.defineProperty(Navigator.prototype, "locks", {
    configurable: true,
    get() {
      return window.noLocks ? undefined : real.call(this);
    },
  });
}

describe("soak", () => {
  test("10^6 getAuthToken() calls and 1,000 refresh cycles in one page: the JS heap and the wasm memory stay flat", async () => {
    const t = await newApp(auth, "soak");
    const context = await browser.newContext();
    await context.addInitScript(lockSwitch);
    const page = await openPage(context, site.url);
    await installHelpers(page, t.app, auth.url);
    const cdp = await context.newCDPSession(page);
    const sample = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      await cdp.send("HeapProfiler.collectGarbage");
      const { usedSize } = await cdp.send("Runtime.getHeapUsage");
      const wasm = await wasmMemory(cdp);
      return { js: usedSize, wasm };
    };
    const figures = [];
    let previous;
    const phase = async (label, fn, arg) => {
      const start = Date.now();
      const result = await page.evaluate(fn, arg);
      const ms = Date.now() - start;
      const now = await sample();
      figures.push({ label, ms, ...result, jsHeap: now.js, wasm: now.wasm, jsGrowth: now.js - previous.js, wasmGrowth: now.wasm - previous.wasm });
      previous = now;
      return result;
    };

    // Warm up (JIT, first allocations, the CORS preflight cache), then the baseline.
    await page.evaluate(
      async ([app, authOrigin, authResult]) => {
        window.refreshed = 0;
        window.user = new window.psg.PassageUser({ appId: app, authOrigin });
        window.user.onAuthStateChange((event) => {
          if (event === "TOKEN_REFRESHED") window.refreshed++;
        });
        window.user.setAuthResult(authResult);
        for (let i = 0; i < 10_000; i++) await window.user.getAuthToken();
        for (let i = 0; i < 100; i++) await window.user.authGuard();
        window.noLocks = true;
        for (let i = 0; i < 20; i++) await window.user.refresh();
        window.noLocks = false;
      },
      [t.app, auth.url, t.authResult],
    );
    previous = await sample();
    const baseline = previous;

    const fast = await phase("10^6 getAuthToken()", async () => {
      const first = await window.user.getAuthToken();
      let same = 0;
      for (let i = 0; i < 1_000_000; i++) if ((await window.user.getAuthToken()) === first) same++;
      return { calls: 1_000_000, same };
    });
    assert.equal(fast.same, 1_000_000, "the fast path hands out one token");

    const guard = await phase("10^4 authGuard()", async () => {
      let yes = 0;
      for (let i = 0; i < 10_000; i++) if (await window.user.authGuard()) yes++;
      return { calls: 10_000, yes };
    });
    assert.equal(guard.yes, 10_000);

    const cycles = await phase("1,000 refresh() cycles with Web Locks", async () => {
      const before = window.refreshed;
      let previousToken = await window.user.getAuthToken();
      let changed = 0;
      for (let i = 0; i < 1000; i++) {
        const token = await window.user.refresh();
        if (token !== previousToken) changed++;
        previousToken = token;
      }
      return { cycles: 1000, changed, events: window.refreshed - before };
    });
    assert.equal(cycles.changed, 1000, "every cycle brings a new token");
    assert.equal(cycles.events, 1000, "one TOKEN_REFRESHED per cycle");

    const locked = await phase("20 refresh() cycles, no Web Locks", async () => {
      window.noLocks = true;
      let changed = 0;
      let previousToken = await window.user.getAuthToken();
      for (let i = 0; i < 20; i++) {
        const token = await window.user.refresh();
        if (token !== previousToken) changed++;
        previousToken = token;
      }
      window.noLocks = false;
      return { cycles: 20, changed };
    });
    assert.equal(locked.changed, 20);

    const stats = await t.stats();
    assert.equal(stats.refresh_ok, 20 + 1000 + 20);
    // The session is still good after all that.
    const rt = await page.evaluate(() => localStorage.getItem("psg_refresh_token"));
    const res = await fetch(`${auth.url}/v1/apps/${t.app}/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: rt }),
    });
    assert.equal(res.status, 200);

    const mb = (n) => `${(n / MB).toFixed(2)} MB`;
    console.log(`baseline: JS heap ${mb(baseline.js)}, wasm memory ${mb(baseline.wasm)}`);
    for (const f of figures) {
      const perCall = f.calls ? `, ${((f.ms * 1000) / f.calls).toFixed(3)} µs/call` : f.cycles ? `, ${(f.ms / f.cycles).toFixed(1)} ms/cycle` : "";
      console.log(`${f.label}: ${f.ms} ms${perCall}; JS heap ${mb(f.jsHeap)} (${f.jsGrowth >= 0 ? "+" : ""}${mb(f.jsGrowth)}), wasm ${mb(f.wasm)} (+${mb(f.wasmGrowth)})`);
    }
    for (const f of figures) {
      assert.ok(f.jsGrowth < LIMIT, `${f.label}: the JS heap grew ${mb(f.jsGrowth)}`);
      assert.ok(f.wasmGrowth < LIMIT, `${f.label}: the wasm memory grew ${mb(f.wasmGrowth)}`);
    }
    assert.deepEqual(page.errors, []);
    await context.close();
  });
});
