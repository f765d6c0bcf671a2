// The server's rotation grace period (server/README.md) against the two
// session losses the client cannot prevent on its own. A page closed after the
// server rotated but before the answer arrived: the next page still holds the
// old refresh token. A lock holder frozen before its request went out: the
// other tabs stop waiting for it, refresh on their own, and when it wakes it
// sends the token they rotated away. With a grace period the server answers
// the old token with the pair it was rotated to, and the session goes on;
// strict (the default, as Passage), its use is reuse and the session ends.
// Only the package's public API, the harness and the server's admin API are
// used.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { installHelpers, newApp, openPage, staleJwt, startAll, stopAll, until } from "./harness.mjs";

let browser, site, auth;
before(async () => ({ browser, site, auth } = await startAll()));
after(() => stopAll({ browser, site, auth }));

/**
 * Signs in on a first page, has it refresh while the server holds its answer
 * (a `late` fault: the rotation is committed at once), closes it as soon as
 * the server has rotated, then opens a second page of the same browser
 * context and forces a refresh there. Returns what the second page saw and
 * the app's counters.
 */
async function closeMidRefresh(reuseGrace) {
  const t = await newApp(auth, "grace", { reuse_grace: reuseGrace });
  const context = await browser.newContext();
  try {
    const first = await openPage(context, site.url);
    await installHelpers(first, t.app, auth.url);
    await first.evaluate((authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      window.user = user;
    }, t.authResult);
    // The server rotates at once and holds the answer for a minute.
    await t.fault({ endpoint: "refresh", mode: "late", delay_ms: 60_000 });
    await first.evaluate(() => {
      window.pending = window.user.refresh().catch(() => {});
    });
    await until(async () => (await t.stats()).refresh_ok === 1, 30_000, "the server to rotate");
    await first.close();

    const next = await openPage(context, site.url);
    await installHelpers(next, t.app, auth.url);
    const seen = await next.evaluate(async () => {
      const user = window.make();
      const before = await user.authGuard();
      const refreshed = await window.attempt(user.refresh());
      const info = await window.attempt(user.userInfo());
      const again = await window.attempt(user.refresh());
      return {
        before,
        refreshed: { ok: refreshed.ok, code: refreshed.code },
        email: info.ok ? info.value?.email : info.code,
        again: { ok: again.ok, code: again.code },
        signedIn: await user.authGuard(),
        events: window.events.map(([event]) => event),
      };
    });
    return { seen, stats: await t.stats(), email: t.email };
  } finally {
    await context.close();
  }
}

describe("a page closed after the server rotated, before the answer arrived", () => {
  test("with a grace period, the next page's session goes on", async () => {
    const { seen, stats, email } = await closeMidRefresh(120);
    assert.equal(seen.before, true);
    assert.deepEqual(seen.refreshed, { ok: true, code: undefined });
    assert.equal(seen.email, email);
    assert.deepEqual(seen.again, { ok: true, code: undefined });
    assert.equal(seen.signedIn, true);
    assert.ok(!seen.events.includes("SIGNED_OUT"), String(seen.events));
    // The lost rotation, the second page's retry (answered from the grace
    // period), and its next, ordinary rotation.
    assert.equal(stats.refresh_ok, 3);
    assert.equal(stats.refresh_grace, 1);
  });

  test("strict, as Passage, the next page's refresh is reuse and the session ends", async () => {
    const { seen, stats } = await closeMidRefresh(0);
    assert.equal(seen.before, true);
    assert.deepEqual(seen.refreshed, { ok: false, code: "login_required" });
    assert.equal(seen.email, undefined);
    assert.deepEqual(seen.again, { ok: false, code: "login_required" });
    assert.equal(seen.signedIn, false);
    assert.ok(seen.events.includes("SIGNED_OUT"), String(seen.events));
    assert.equal(stats.refresh_ok, 1);
    assert.equal(stats.refresh_grace, 0);
  });
});

/**
 * Two tabs of one browser with a stale session. Tab A takes the refresh lock
 * and stalls before its request goes out (its fetch held, as a frozen page's
 * would be; its own request timeout is long, so nothing aborts it); tab B,
 * whose lock wait is 2 s, goes on alone and rotates the token. Then tab A
 * wakes and sends the token B rotated away. Returns what each tab saw and
 * whether the session still refreshes afterwards.
 */
async function frozenHolder(reuseGrace) {
  const t = await newApp(auth, "frozen", { reuse_grace: reuseGrace });
  const context = await browser.newContext();
  try {
    const [a, b] = [await openPage(context, site.url), await openPage(context, site.url)];
    for (const page of [a, b]) await installHelpers(page, t.app, auth.url);
    await a.evaluate(
      ([authResult, stale]) => {
        localStorage.setItem("psg_refresh_token", authResult.refresh_token);
        localStorage.setItem("psg_auth_token", stale);
        // The refresh request waits for `wake()` before it goes out.
        const original = window.fetch;
        let wake;
        const woken = new Promise((ok) => (wake = ok));
        window.wake = wake;
        window.fetch = async (input, init) => {
          const method = input instanceof Request ? input.method : init?.method;
          if (method === "POST") {
            // Sent under the refresh lock: tab A holds it from here on.
            window.stalled = true;
            await woken;
          }
          return original(input, init);
        };
        window.user = window.make({ requestTimeoutInSeconds: 60 });
        window.first = window.attempt(window.user.getAuthToken());
      },
      [t.authResult, staleJwt(auth.url, t.app)],
    );
    // Tab B starts only once tab A holds the lock and its request is held.
    await until(() => a.evaluate(() => window.stalled === true), 30_000, "tab A to hold the lock");
    assert.equal((await t.stats()).refresh, 0, "tab A's request went out");
    const other = await b.evaluate(async () => {
      const user = window.make({ requestTimeoutInSeconds: 0.5 }); // lock wait: 4 x 0.5 s
      const start = Date.now();
      const result = await window.attempt(user.getAuthToken());
      return { ok: result.ok, waited: Date.now() - start };
    });
    const woke = await a.evaluate(async () => {
      window.wake();
      const result = await window.first;
      return { ok: result.ok, code: result.code };
    });
    const later = await b.evaluate(async () => {
      const result = await window.attempt(window.make().refresh());
      return { ok: result.ok, code: result.code };
    });
    return { other, woke, later, stats: await t.stats() };
  } finally {
    await context.close();
  }
}

describe("a lock holder frozen before its request, waking after the other tabs went on", () => {
  test("with a grace period, the woken tab gets the pair the others got, and the session goes on", async () => {
    const { other, woke, later, stats } = await frozenHolder(120);
    assert.equal(other.ok, true);
    assert.ok(other.waited >= 1900, `tab B waited only ${other.waited} ms for the frozen holder`);
    assert.deepEqual(woke, { ok: true, code: undefined });
    assert.deepEqual(later, { ok: true, code: undefined });
    assert.equal(stats.refresh_grace, 1);
  });

  test("strict, as Passage, the woken tab's old token is reuse and the session ends", async () => {
    const { other, later, stats } = await frozenHolder(0);
    assert.equal(other.ok, true);
    assert.deepEqual(later, { ok: false, code: "login_required" });
    assert.equal(stats.refresh_grace, 0);
  });
});
