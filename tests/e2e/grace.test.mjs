// The server's rotation grace period (server/README.md) against the first of
// the two session losses the client cannot prevent on its own: a page closed
// after the server rotated but before the answer arrived. The next page still
// holds the old refresh token. With a grace period the server answers its
// refresh with the tokens the lost answer carried, and the session goes on;
// strict (the default, as Passage), the old token is reuse and the session
// ends. Only the package's public API, the harness and the server's admin API
// are used.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { installHelpers, newApp, openPage, startAll, stopAll } from "./harness.mjs";

let browser, site, auth;
before(async () => ({ browser, site, auth } = await startAll()));
after(() => stopAll({ browser, site, auth }));

/** Polls `check` every 20 ms until it is true (at most `ms`). */
async function until(check, ms, what) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

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
      await window.settle();
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
