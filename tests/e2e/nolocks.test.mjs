// One refresh across tabs where the browser has no Web Locks: a real
// insecure origin (`http://app.test:PORT`, mapped to 127.0.0.1, where
// Chromium offers no `navigator.locks`), Web Locks removed before the
// package loads, and neither Web Locks nor BroadcastChannel. Against the
// local auth server's strict rotation, as Passage's: a refresh token sent
// twice ends the session, so one extra refresh would show.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  installHelpers,
  launchBrowser,
  newApp,
  openPage,
  serverAccepts,
  staleJwt,
  startAuthServer,
  startStatic,
  until,
} from "./harness.mjs";

let browser, site, auth, insecure;
before(async () => {
  site = await startStatic();
  insecure = `http://app.test:${new URL(site.url).port}`;
  auth = await startAuthServer(["--origin", insecure]);
  browser = await launchBrowser({ args: ["--host-resolver-rules=MAP app.test 127.0.0.1"] });
});
after(async () => {
  await browser?.close();
  await site?.close();
  await auth?.stop();
});

/** Init scripts that take away what the browser would offer. */
const WITHOUT = {
  locks: () => Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined }),
  channel: () => delete window.BroadcastChannel,
  // The signals' localStorage key: no message reaches another tab at all.
  signals: () => {
    const setItem = Storage.prototype.setItem;
    Storage.prototype.setItem = function (key, value) {
      if (key !== "psg_signal") setItem.call(this, key, value);
    };
  },
};

/** `count` tabs of one context on `origin`, each with a PassageUser as `window.user`. */
async function tabs(count, { origin = site.url, without = [] } = {}) {
  const t = await newApp(auth, "nolocks");
  const context = await browser.newContext();
  for (const what of without) await context.addInitScript(WITHOUT[what]);
  const pages = [];
  for (let i = 0; i < count; i++) {
    const page = await openPage(context, origin);
    await installHelpers(page, t.app, auth.url);
    pages.push(page);
  }
  const everywhere = (fn, arg) => Promise.all(pages.map((p) => p.evaluate(fn, arg)));
  await everywhere(() => {
    window.user = window.make();
  });
  return { ...t, context, pages, everywhere, done: () => context.close() };
}

/** Stores `refreshToken` with an expired auth token: every tab must refresh. */
async function expire(t, refreshToken) {
  await t.pages[0].evaluate(
    ([rt, stale]) => {
      localStorage.setItem("psg_refresh_token", rt);
      localStorage.setItem("psg_auth_token", stale);
    },
    [refreshToken, staleJwt(auth.url, t.app)],
  );
  // Every tab has read it before the round starts (a tab hears of its own
  // page's write only when it reads storage).
  for (const page of t.pages) {
    await page.waitForFunction(async () => (await window.user.authGuard()) === false);
  }
}

/** Every tab calls getAuthToken() `calls` times at once; answers the outcomes. */
async function round(t, calls) {
  const at = Date.now() + 300;
  const results = await t.everywhere(
    async ([at, calls]) => {
      while (Date.now() < at) await new Promise((ok) => setTimeout(ok, 1));
      return Promise.all(Array.from({ length: calls }, () => window.attempt(window.user.getAuthToken())));
    },
    [at, calls],
  );
  return results.flat();
}

/** Two rounds of `tabs` tabs x 50 calls on an expired token: one refresh each, and the session lives on. */
async function twoRounds(options) {
  const t = await tabs(5, options);
  let rt = t.authResult.refresh_token;
  for (const expected of [1, 2]) {
    await expire(t, rt);
    const outcomes = await round(t, 50);
    assert.ok(
      outcomes.every((r) => r.ok),
      `round ${expected}: ${JSON.stringify(outcomes.find((r) => !r.ok))}`,
    );
    assert.equal(new Set(outcomes.map((r) => r.value)).size, 1, "every tab hands out the one new token");
    assert.equal((await t.stats()).refresh, expected, `refreshes after round ${expected}`);
    rt = await t.pages[0].evaluate(() => localStorage.getItem("psg_refresh_token"));
  }
  const events = (await t.everywhere(() => window.events)).flat();
  assert.ok(!events.some(([e]) => e === "SIGNED_OUT"), JSON.stringify(events));
  assert.equal(await serverAccepts(auth, t.app, rt), true, "the stored refresh token is the live one");
  return t;
}

describe("without Web Locks, one refresh per expiry across tabs", () => {
  test("on an insecure origin (no navigator.locks): 5 tabs x 50 calls, two rounds, one refresh each", async () => {
    const t = await twoRounds({ origin: insecure });
    const page = await t.pages[0].evaluate(() => ({ secure: isSecureContext, locks: "locks" in navigator }));
    assert.deepEqual(page, { secure: false, locks: false });
    await t.done();
  });

  test("Web Locks removed before the package loads: the same", async () => {
    const t = await twoRounds({ without: ["locks"] });
    await t.done();
  });

  test("neither Web Locks nor BroadcastChannel (messages by localStorage): the same", async () => {
    const t = await twoRounds({ without: ["locks", "channel"] });
    await t.done();
  });

  test("a tab closed while it holds the lock does not block the others", async () => {
    const t = await tabs(2, { without: ["locks"] });
    await expire(t, t.authResult.refresh_token);
    // Tab 0 takes the lock, and its refresh request is held in the page.
    await t.pages[0].evaluate(() => {
      const original = window.fetch;
      window.fetch = (input, init) => {
        const method = input instanceof Request ? input.method : init?.method;
        if (method !== "POST") return original(input, init);
        window.holding = true;
        return new Promise(() => {});
      };
      window.user.getAuthToken();
    });
    await until(() => t.pages[0].evaluate(() => window.holding === true), 10_000, "tab 0 to hold the lock");
    const call = t.pages[1].evaluate(async () => {
      const start = Date.now();
      const result = await window.attempt(window.user.getAuthToken());
      return { result, ms: Date.now() - start };
    });
    await t.pages[0].close();
    const r = await call;
    assert.equal(r.result.ok, true, r.result.code);
    // The lock timeout is 40 s with the default request timeout: the closed
    // page let the lock go as it went (a bound with ample margin).
    assert.ok(r.ms < 15_000, `waited ${r.ms} ms`);
    assert.equal((await t.stats()).refresh, 1, "the held request never went out");
    await t.done();
  });
});

describe("with no way to reach the other tabs", () => {
  test("each tab refreshes at most once, and a lost race keeps the user signed in", async () => {
    const t = await tabs(2, { without: ["locks", "channel", "signals"] });
    await expire(t, t.authResult.refresh_token);
    // Tab 0's refresh is refused, as the server refuses a token another tab
    // has rotated meanwhile; its answer is held until tab 1's refresh is done.
    await t.fault({ status: 401, count: 1 });
    let refused = false;
    let release;
    const released = new Promise((ok) => (release = ok));
    await t.pages[0].route("**/tokens", async (route) => {
      if (route.request().method() !== "POST") return route.continue();
      const response = await route.fetch();
      refused = true;
      await released;
      await route.fulfill({ response });
    });
    const first = t.pages[0].evaluate(() => window.attempt(window.user.getAuthToken()));
    await until(() => refused, 10_000, "tab 0's refresh to be refused");
    const second = await t.pages[1].evaluate(() => window.attempt(window.user.getAuthToken()));
    // Tab 1's write has reached tab 0 when its answer lands.
    await t.pages[0].waitForFunction((rt) => localStorage.getItem("psg_refresh_token") !== rt, t.authResult.refresh_token);
    release();
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
});

describe("the cookie mirror on an http origin", () => {
  test("is set without Secure (a Secure one would be refused there), and cleared by signOut", async () => {
    const t = await tabs(1, { origin: insecure });
    const r = await t.pages[0].evaluate(async (authResult) => {
      window.user.setAuthResult(authResult);
      const set = document.cookie;
      await window.user.signOut();
      return { set, after: document.cookie };
    }, t.authResult);
    assert.equal(r.set, `psg_auth_token=${t.authResult.auth_token}`);
    assert.equal(r.after, "");
    await t.done();
  });
});
