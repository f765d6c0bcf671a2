// Many tabs, one session: several pages of one browser context (so one
// localStorage, one set of Web Locks) against the local auth server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { demoLogin, installHelpers, newApp, openPage, serverAccepts, staleJwt, startAll, stopAll } from "./harness.mjs";

let browser, site, auth;
before(async () => ({ browser, site, auth } = await startAll()));
after(() => stopAll({ browser, site, auth }));

/** An app with a signed-in user, and `count` tabs of one context, each with a PassageUser as `window.user`. */
async function tabs(count, { settings = {}, noLocks = false } = {}) {
  const t = await newApp(auth, "tabs", settings);
  const context = await browser.newContext();
  if (noLocks) {
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined }));
  }
  const pages = [];
  for (let i = 0; i < count; i++) {
    const page = await openPage(context, site.url);
    await installHelpers(page, t.app, auth.url);
    pages.push(page);
  }
  const everywhere = (fn, arg) => Promise.all(pages.map((p) => p.evaluate(fn, arg)));
  return { ...t, context, pages, everywhere, done: () => context.close() };
}

/** Stores a session whose auth token is stale, so the next getAuthToken must refresh. */
async function storeStaleSession(t) {
  await t.pages[0].evaluate(
    ([authResult, stale]) => {
      localStorage.setItem("psg_refresh_token", authResult.refresh_token);
      localStorage.setItem("psg_auth_token", stale);
    },
    [t.authResult, staleJwt(auth.url, t.app)],
  );
}

describe("one refresh across tabs", () => {
  for (const count of [3, 10]) {
    test(`${count} tabs calling at the same instant on an expired token cause exactly one refresh`, async () => {
      const t = await tabs(count);
      await storeStaleSession(t);
      await t.everywhere(() => {
        window.user = window.make();
      });
      const at = Date.now() + 500;
      const results = await t.everywhere(async (at) => {
        while (Date.now() < at) await new Promise((ok) => setTimeout(ok, 1));
        const calls = Array.from({ length: 20 }, () => window.attempt(window.user.getAuthToken()));
        return Promise.all(calls);
      }, at);
      const flat = results.flat();
      assert.ok(flat.every((r) => r.ok), JSON.stringify(flat.find((r) => !r.ok)));
      const tokens = new Set(flat.map((r) => r.value));
      assert.equal(tokens.size, 1, "every tab hands out the one new token");
      assert.equal((await t.stats()).refresh, 1);
      // The rotated token in storage is the live one.
      const rt = await t.pages[0].evaluate(() => localStorage.getItem("psg_refresh_token"));
      assert.equal(await serverAccepts(auth, t.app, rt), true);
      await t.done();
    });
  }

  test("without Web Locks each tab refreshes at most once, and a lost race keeps the user signed in", async () => {
    const t = await tabs(2, { noLocks: true });
    await storeStaleSession(t);
    await t.everywhere(() => {
      window.user = window.make();
    });
    // Tab 0's refresh is held 800 ms and then refused, as the server refuses
    // a token another tab has rotated meanwhile; tab 1's goes through.
    await t.fault({ status: 401, delay_ms: 800, count: 1 });
    const first = t.pages[0].evaluate(() => window.attempt(window.user.getAuthToken()));
    await new Promise((ok) => setTimeout(ok, 200));
    const second = await t.pages[1].evaluate(() => window.attempt(window.user.getAuthToken()));
    const lost = await first;
    assert.equal(second.ok, true, second.code);
    assert.equal(lost.ok, true, `the tab that lost the race signed out: ${lost.code}`);
    assert.equal(lost.value, second.value, "it adopts the winner's token");
    const stored = await t.pages[0].evaluate(() => ({ rt: localStorage.getItem("psg_refresh_token"), events: window.events }));
    assert.ok(stored.rt);
    assert.ok(!stored.events.some(([e]) => e === "SIGNED_OUT"));
    assert.equal((await t.stats()).refresh, 2);
    await t.done();
  });

  test("back-to-back refreshes in one tab take over its own kept lock instead of waiting on it", async () => {
    const t = await tabs(1);
    const r = await t.pages[0].evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const tokens = new Set();
      const start = Date.now();
      for (let i = 0; i < 20; i++) tokens.add(await user.refresh());
      return { distinct: tokens.size, ms: Date.now() - start };
    }, t.authResult);
    assert.equal(r.distinct, 20);
    assert.equal((await t.stats()).refresh, 20);
    // Waiting on its own lock would cost 100 ms plus a 500 ms wait per
    // refresh (12 s in all); a generous bound, not a speed measurement (the
    // simulation checks the takeover in virtual time).
    assert.ok(r.ms < 10_000, `20 refreshes took ${r.ms} ms`);
    await t.done();
  });

  test("a holder that never releases the lock blocks the others no longer than the lock timeout", async () => {
    const t = await tabs(2);
    await storeStaleSession(t);
    // Tab 0 stands for a frozen tab: it holds the refresh lock forever.
    await t.pages[0].evaluate(
      (name) => new Promise((held) => navigator.locks.request(name, () => (held(), new Promise(() => {})))),
      `psg_refresh ${auth.url}/v1/apps/${t.app}`,
    );
    const r = await t.pages[1].evaluate(async () => {
      const user = window.make({ requestTimeoutInSeconds: 0.5 }); // lock timeout: 4 x 0.5 s
      const start = Date.now();
      const result = await window.attempt(user.getAuthToken());
      return { result, ms: Date.now() - start };
    });
    assert.equal(r.result.ok, true, r.result.code);
    // At least the lock wait (4 x 0.5 s), and not much more.
    assert.ok(r.ms >= 1900 && r.ms < 15_000, `waited ${r.ms} ms`);
    assert.equal((await t.stats()).refresh, 1);
    await t.done();
  });

  test("a tab closed while holding the lock does not block the others", async () => {
    const t = await tabs(2);
    await storeStaleSession(t);
    await t.pages[0].evaluate(
      (name) => new Promise((held) => navigator.locks.request(name, () => (held(), new Promise(() => {})))),
      `psg_refresh ${auth.url}/v1/apps/${t.app}`,
    );
    const call = t.pages[1].evaluate(async () => {
      const start = Date.now();
      const result = await window.attempt(window.make().getAuthToken());
      return { result, ms: Date.now() - start };
    });
    await new Promise((ok) => setTimeout(ok, 300));
    await t.pages[0].close();
    const r = await call;
    assert.equal(r.result.ok, true, r.result.code);
    // Released when the page closed, not by the lock timeout (40 s with the
    // default request timeout): an upper bound with ample margin for a
    // loaded machine.
    assert.ok(r.ms < 15_000, `waited ${r.ms} ms`);
    await t.done();
  });
});

describe("other tabs' changes are seen at once", () => {
  test("after tab A signs out, tab B rejects login_required without a request, once the change reaches it", async () => {
    const t = await tabs(2);
    await t.pages[0].evaluate((authResult) => window.make().setAuthResult(authResult), t.authResult);
    await t.pages[1].evaluate(async () => {
      window.user = window.make();
      window.before = await window.user.getAuthToken();
    });
    const stats = await t.stats();
    const signedOutAt = await t.pages[0].evaluate(async () => {
      const user = window.make();
      const at = Date.now();
      await user.signOut();
      return at;
    });
    const r = await t.pages[1].evaluate(async (signedOutAt) => {
      for (;;) {
        const result = await window.attempt(window.user.getAuthToken());
        if (!result.ok) return { result, ms: Date.now() - signedOutAt, events: window.events };
        if (Date.now() - signedOutAt > 15_000) return { result, ms: Infinity };
        await new Promise((ok) => setTimeout(ok, 5));
      }
    }, signedOutAt);
    // Milliseconds in practice (a storage event); the simulation checks that
    // nothing is handed out once the change is delivered.
    assert.equal(r.result.code, "login_required");
    assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
    assert.deepEqual(r.events.at(-1), ["SIGNED_OUT", "other_tab"]);
    const after = await t.stats();
    assert.equal(after.refresh, stats.refresh, "no refresh was attempted");
    await t.done();
  });

  test("after tab A signs in as another user, tab B hands out the new token and fires SIGNED_IN", async () => {
    const t = await tabs(2);
    await t.pages[0].evaluate((authResult) => window.make().setAuthResult(authResult), t.authResult);
    const first = await t.pages[1].evaluate(async () => {
      window.user = window.make();
      return window.user.getAuthToken();
    });
    assert.ok(first === t.authResult.auth_token);
    const other = await demoLogin(auth, t.app, "someone-else@example.com");
    await t.pages[0].evaluate((authResult) => window.make().setAuthResult(authResult), other);
    // As soon as the browser delivers the change (milliseconds), not later.
    await t.pages[1].waitForFunction(() => window.events.some(([e]) => e === "SIGNED_IN"), null, { timeout: 1000 });
    const r = await t.pages[1].evaluate(async () => ({ token: await window.user.getAuthToken(), events: window.events }));
    assert.ok(r.token === other.auth_token, "tab B hands out the new user's token");
    assert.deepEqual(r.events.at(-1), ["SIGNED_IN", null]);
    await t.done();
  });

  test("a refresh in tab A fires TOKEN_REFRESHED in tab B, which uses the new token with no request of its own", async () => {
    const t = await tabs(2);
    await t.pages[0].evaluate((authResult) => {
      window.user = window.make();
      window.user.setAuthResult(authResult);
    }, t.authResult);
    await t.pages[1].evaluate(() => {
      window.user = window.make();
    });
    const refreshed = await t.pages[0].evaluate(() => window.user.refresh());
    await t.pages[1].waitForFunction(() => window.events.some(([e]) => e === "TOKEN_REFRESHED"), null, { timeout: 1000 });
    assert.equal(await t.pages[1].evaluate(() => window.user.getAuthToken()), refreshed);
    assert.equal((await t.stats()).refresh, 1);
    await t.done();
  });
});

describe("a sign-out crossing a refresh", () => {
  test("a refresh reply that lands after another tab's sign-out leaves no session anywhere", async () => {
    const t = await tabs(2);
    await storeStaleSession(t);
    // Tab B's copy of storage must have the session before its client
    // starts (a write reaches another tab a few ms late).
    await t.pages[1].waitForFunction((rt) => localStorage.getItem("psg_refresh_token") === rt, t.authResult.refresh_token);
    await t.everywhere(() => {
      window.user = window.make();
    });
    // Tab A's refresh reaches the server (which rotates the token at once),
    // but its reply is held back 800 ms: tab B signs out meanwhile.
    let rotated;
    await t.pages[0].route("**/tokens", async (route) => {
      if (route.request().method() !== "POST") return route.continue();
      const response = await route.fetch();
      const body = await response.json();
      rotated = body.auth_result.refresh_token;
      await new Promise((ok) => setTimeout(ok, 800));
      await route.fulfill({ response, json: body });
    });
    const refreshing = t.pages[0].evaluate(() => window.attempt(window.user.getAuthToken()));
    await new Promise((ok) => setTimeout(ok, 300));
    const signedOut = await t.pages[1].evaluate(async () => ({ confirmed: await window.user.signOut(), keys: Object.keys(localStorage) }));
    const a = await refreshing;
    assert.ok(rotated, "the server rotated the token before the sign-out");
    assert.equal(signedOut.confirmed, true);
    assert.deepEqual(signedOut.keys, [], "storage keeps nothing once signOut() has resolved");
    assert.equal(a.ok, false, "the crossing refresh hands out no token");
    assert.equal(a.code, "login_required");
    // The pending revocation B confirmed is removed too; another tab sees
    // that a few ms later.
    await Promise.all(t.pages.map((p) => p.waitForFunction(() => localStorage.length === 0, null, { timeout: 2000 }).catch(() => {})));
    const after = await t.everywhere(async () => ({
      token: await window.attempt(window.user.getAuthToken()),
      keys: Object.keys(localStorage),
      signedIn: window.events.filter(([e]) => e === "SIGNED_IN").length,
      events: JSON.stringify(window.events),
    }));
    for (const tab of after) {
      assert.equal(tab.token.code, "login_required");
      assert.deepEqual(tab.keys, []);
      assert.equal(tab.signedIn, 0, `no tab saw the session come back: ${tab.events}`);
    }
    assert.equal(await serverAccepts(auth, t.app, rotated), false, "the rotated token is dead on the server too");
    await t.done();
  });
});

describe("pending revocations", () => {
  test("are retried by exactly one tab", async () => {
    const t = await tabs(1);
    await t.pages[0].evaluate((rt) => localStorage.setItem("psg_pending_revocation", JSON.stringify([rt])), t.authResult.refresh_token);
    const more = [];
    for (let i = 0; i < 5; i++) {
      const page = await t.context.newPage();
      await page.goto(site.url + "/tests/e2e/pages/blank.html");
      more.push(page);
    }
    // Every tab starts a client at the same moment.
    await Promise.all(
      [t.pages[0], ...more].map((p) =>
        p.evaluate(async ([app, authOrigin]) => {
          while (!window.psg) await new Promise((ok) => setTimeout(ok, 5));
          new window.psg.PassageUser({ appId: app, authOrigin });
        }, [t.app, auth.url]),
      ),
    );
    await t.pages[0].waitForFunction(() => localStorage.getItem("psg_pending_revocation") === null, null, { timeout: 5000 });
    await new Promise((ok) => setTimeout(ok, 300));
    assert.equal((await t.stats()).revoke, 1);
    assert.equal(await serverAccepts(auth, t.app, t.authResult.refresh_token), false);
    await t.done();
  });
});

describe("listeners", () => {
  test("run with no lock held, and may call getAuthToken and refresh from inside", async () => {
    const t = await tabs(2);
    await storeStaleSession(t);
    const r = await t.pages[0].evaluate(async (lockName) => {
      const user = window.make();
      const seen = [];
      const calls = [];
      user.onAuthStateChange((event) => {
        // Ask for our own refresh lock without waiting: held by us during
        // the callback, this would be refused.
        navigator.locks.request(lockName, { ifAvailable: true }, (lock) => seen.push([event, lock !== null]));
        if (event === "TOKEN_REFRESHED" && calls.length === 0) {
          calls.push(user.getAuthToken(), user.refresh());
        }
      });
      const token = await user.getAuthToken();
      // Events come once the lock is released, just after the callers resolve.
      while (calls.length === 0) await new Promise((ok) => setTimeout(ok, 10));
      const inner = await Promise.race([
        Promise.all(calls),
        new Promise((_, fail) => setTimeout(() => fail(new Error("a listener's call deadlocked")), 5000)),
      ]);
      const deadline = Date.now() + 3000;
      while (seen.length < 2 && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 10));
      return { token, inner, seen };
    }, `psg_refresh ${auth.url}/v1/apps/${t.app}`);
    assert.ok(r.inner[0] === r.token, "getAuthToken() from a listener gets the refreshed token");
    assert.ok(r.inner[1] !== r.token, "refresh() from a listener gets a new token");
    assert.deepEqual(r.seen.map(([, free]) => free), r.seen.map(() => true), JSON.stringify(r.seen));
    assert.ok(r.seen.length >= 2);
    await t.done();
  });
});

