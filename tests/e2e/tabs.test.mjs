// Many tabs, one session: several pages of one browser context (so one
// localStorage, one set of Web Locks) against the local auth server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { demoLogin, installHelpers, newApp, openPage, serverAccepts, staleJwt, startAll, stopAll, until } from "./harness.mjs";

let browser, site, auth;
before(async () => ({ browser, site, auth } = await startAll()));
after(() => stopAll({ browser, site, auth }));

/** An app with a signed-in user, and `count` tabs of one context, each with a PassageUser as `window.user`. */
async function tabs(count, { settings = {} } = {}) {
  const t = await newApp(auth, "tabs", settings);
  const context = await browser.newContext();
  const pages = [];
  for (let i = 0; i < count; i++) {
    const page = await openPage(context, site.url);
    await installHelpers(page, t.app, auth.url);
    pages.push(page);
  }
  const everywhere = (fn, arg) => Promise.all(pages.map((p) => p.evaluate(fn, arg)));
  return { ...t, context, pages, everywhere, done: () => context.close() };
}

/** The name of the app's cross-tab refresh lock. */
const lockName = (t) => `psg_refresh ${auth.url}/v1/apps/${t.app}`;

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
    // Tab 1 is queued behind the held lock before tab 0 goes away.
    await until(
      () => t.pages[0].evaluate(async (name) => (await navigator.locks.query()).pending.some((l) => l.name === name), lockName(t)),
      10_000,
      "tab 1 to wait for the lock",
    );
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
    await t.pages[1].waitForFunction(() => window.events.some(([e]) => e === "SIGNED_IN"), null, { timeout: 5000 });
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
    await t.pages[1].waitForFunction(() => window.events.some(([e]) => e === "TOKEN_REFRESHED"), null, { timeout: 5000 });
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
    let rotated, deliver;
    const delivered = new Promise((ok) => (deliver = ok));
    await t.pages[0].route("**/tokens", async (route) => {
      if (route.request().method() !== "POST") return route.continue();
      const response = await route.fetch();
      const body = await response.json();
      rotated = body.auth_result.refresh_token;
      await delivered;
      await route.fulfill({ response, json: body });
    });
    const refreshing = t.pages[0].evaluate(() => window.attempt(window.user.getAuthToken()));
    await until(() => rotated !== undefined, 10_000, "the server to rotate tab A's token");
    // Tab B signs out: its storage is cleared at once; then tab A's reply lands.
    await t.pages[1].evaluate(() => {
      window.signingOut = window.user.signOut();
    });
    deliver();
    const signedOut = await t.pages[1].evaluate(async () => ({ confirmed: await window.signingOut, keys: Object.keys(localStorage) }));
    const a = await refreshing;
    assert.ok(rotated, "the server rotated the token before the sign-out");
    assert.equal(signedOut.confirmed, true);
    assert.deepEqual(signedOut.keys, [], "storage keeps nothing once signOut() has resolved");
    assert.equal(a.ok, false, "the crossing refresh hands out no token");
    assert.equal(a.code, "login_required");
    // The pending revocation B confirmed is removed too; another tab sees
    // that a few ms later.
    await Promise.all(t.pages.map((p) => p.waitForFunction(() => localStorage.length === 0, null, { timeout: 10_000 })));
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
    // Every tab has seen the revocation confirmed, and no tab holds the
    // revocation lock any more: none has a revocation left to send.
    const pages = [t.pages[0], ...more];
    await Promise.all(pages.map((p) => p.waitForFunction(() => localStorage.getItem("psg_pending_revocation") === null, null, { timeout: 10_000 })));
    await until(
      () => t.pages[0].evaluate(async () => !(await navigator.locks.query()).held.some((l) => l.name.startsWith("psg_revoke"))),
      10_000,
      "the revocation lock to be free",
    );
    assert.equal((await t.stats()).revoke, 1);
    assert.equal(await serverAccepts(auth, t.app, t.authResult.refresh_token), false);
    await t.done();
  });
});

describe("listeners", () => {
  test("hear of a refresh before its callers resume, and may call getAuthToken and refresh from inside", async () => {
    const t = await tabs(2);
    await storeStaleSession(t);
    const r = await t.pages[0].evaluate(async () => {
      const user = window.make();
      const heard = [];
      const calls = [];
      user.onAuthStateChange((event) => {
        heard.push(event);
        if (event === "TOKEN_REFRESHED" && calls.length === 0) {
          calls.push(user.getAuthToken(), user.refresh());
        }
      });
      const token = await user.getAuthToken();
      const heardByThen = [...heard];
      const inner = await Promise.race([
        Promise.all(calls),
        new Promise((_, fail) => setTimeout(() => fail(new Error("a listener's call deadlocked")), 15_000)),
      ]);
      return { token, inner, heardByThen, heard };
    });
    assert.deepEqual(r.heardByThen, ["TOKEN_REFRESHED"], "the event came before getAuthToken() resolved");
    assert.ok(r.inner[0] === r.token, "getAuthToken() from a listener gets the refreshed token");
    assert.ok(r.inner[1] !== r.token, "refresh() from a listener gets a new token");
    assert.deepEqual(r.heard, ["TOKEN_REFRESHED", "TOKEN_REFRESHED"]);
    assert.equal((await t.stats()).refresh, 2);
    await t.done();
  });
});
