// The fault matrix: each case is a fault the local auth server injects (or
// the browser, or the storage, produces), and each test pins the documented
// error code, what must be kept, what must be gone, and an upper bound on the
// time taken (no hang). Cases already pinned by refresh.test.mjs and
// tabs.test.mjs (401/403/404, 500/502/503 and drops on refresh, 429 without
// Retry-After, a long Retry-After, a slow reply, malformed refresh replies,
// signOut offline or on 503, a frozen or closed lock holder) are not
// repeated here.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  installHelpers,
  newApp,
  openPage,
  serverAccepts,
  staleJwt,
  startAll,
  startAuthServer,
  stopAll,
} from "./harness.mjs";

let browser, site, auth;
before(async () => ({ browser, site, auth } = await startAll()));
after(() => stopAll({ browser, site, auth }));

/** A new app with a signed-in AuthResult, and a page in a new context (after `initScript`, if any). */
async function setup({ server = auth, settings = {}, initScript } = {}) {
  const t = await newApp(server, "faults", settings);
  const context = await browser.newContext();
  if (initScript) await context.addInitScript(initScript);
  const page = await openPage(context, site.url);
  await installHelpers(page, t.app, server.url);
  return { ...t, context, page, stale: staleJwt(server.url, t.app), done: () => context.close() };
}

/** Whether the page fired SIGNED_OUT. */
const signedOut = (events) => events.some(([e]) => e === "SIGNED_OUT");

describe("Retry-After on refresh", () => {
  test("429 with a short Retry-After twice, then success: both waits honoured, the caller gets the new token", async () => {
    const t = await setup();
    await t.fault({ status: 429, retry_after: 1, count: 2 });
    const r = await t.page.evaluate(
      async ([authResult, stale]) => {
        const user = window.make();
        user.setAuthResult({ ...authResult, auth_token: stale });
        const start = Date.now();
        const result = await window.attempt(user.getAuthToken());
        return { result, ms: Date.now() - start, rt: localStorage.getItem("psg_refresh_token") };
      },
      [t.authResult, t.stale],
    );
    assert.equal(r.result.ok, true, r.result.code);
    assert.ok(r.ms >= 2000, `retried after ${r.ms} ms`);
    assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
    assert.equal((await t.stats()).refresh, 3);
    assert.notEqual(r.rt, t.authResult.refresh_token, "the rotated token is stored");
    assert.equal(await serverAccepts(auth, t.app, r.rt), true);
    await t.done();
  });

  test("429 with a short Retry-After on every attempt: rate_limited with retryAfter, after 3 attempts, session kept", async () => {
    const t = await setup();
    await t.fault({ status: 429, retry_after: 1, count: 3 });
    const r = await t.page.evaluate(
      async ([authResult, stale]) => {
        const user = window.make();
        user.setAuthResult({ ...authResult, auth_token: stale });
        const start = Date.now();
        const result = await window.attempt(user.getAuthToken());
        const ms = Date.now() - start;
        return { result, ms, rt: localStorage.getItem("psg_refresh_token"), auth: localStorage.getItem("psg_auth_token"), events: window.events };
      },
      [t.authResult, t.stale],
    );
    assert.equal(r.result.code, "rate_limited");
    assert.equal(r.result.isPassageError, true);
    assert.equal(r.result.retryAfter, 1);
    assert.ok(r.ms >= 2000 && r.ms < 15_000, `took ${r.ms} ms`);
    assert.equal((await t.stats()).refresh, 3);
    assert.equal(r.rt, t.authResult.refresh_token, "the refresh token is kept");
    assert.equal(r.auth, t.stale, "the auth token is kept");
    assert.ok(!signedOut(r.events));
    // The session is intact: the next call refreshes.
    const again = await t.page.evaluate(() => window.attempt(window.make().getAuthToken()));
    assert.equal(again.ok, true, again.code);
    await t.done();
  });

  test("503 with a short Retry-After is retried after it, then succeeds", async () => {
    const t = await setup();
    await t.fault({ status: 503, retry_after: 2, count: 1 });
    const r = await t.page.evaluate(
      async ([authResult, stale]) => {
        const user = window.make();
        user.setAuthResult({ ...authResult, auth_token: stale });
        const start = Date.now();
        const result = await window.attempt(user.getAuthToken());
        return { result, ms: Date.now() - start };
      },
      [t.authResult, t.stale],
    );
    assert.equal(r.result.ok, true, r.result.code);
    assert.ok(r.ms >= 2000 && r.ms < 15_000, `retried after ${r.ms} ms`);
    assert.equal((await t.stats()).refresh, 2);
    await t.done();
  });
});

describe("signOut when the revocation fails", () => {
  for (const [label, spec] of [
    ["502", { status: 502 }],
    ["500", { status: 500 }],
    ["429", { status: 429, retry_after: 1 }],
    ["a dropped connection", { mode: "drop", count: 2 }],
  ]) {
    test(`${label} on revoke: false, the session gone everywhere, only the pending revocation kept`, async () => {
      const t = await setup();
      await t.fault({ endpoint: "revoke", count: 1, ...spec });
      const r = await t.page.evaluate(async (authResult) => {
        const user = window.make();
        user.setAuthResult(authResult);
        const start = Date.now();
        const confirmed = await user.signOut();
        const ms = Date.now() - start;
        const next = await window.attempt(user.getAuthToken());
        const guard = await user.authGuard();
        return { confirmed, ms, next, guard, stored: { ...localStorage }, cookie: document.cookie, events: window.events };
      }, t.authResult);
      assert.equal(r.confirmed, false);
      assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
      assert.deepEqual(r.stored, { psg_pending_revocation: JSON.stringify([t.authResult.refresh_token]) });
      assert.equal(r.cookie, "");
      assert.equal(r.next.code, "login_required");
      assert.equal(r.guard, false);
      assert.deepEqual(r.events, [["SIGNED_IN", null], ["SIGNED_OUT", "sign_out"]]);
      const stats = await t.stats();
      assert.equal(stats.refresh, 0, "the pending token is never used to refresh");
      assert.equal(stats.revoke_ok, 0);
      await auth.admin("DELETE", "/admin/faults");
      await t.done();
    });
  }

  test("502 on revoke, then the next page load revokes the pending token and forgets it", async () => {
    const t = await setup();
    await t.fault({ endpoint: "revoke", status: 502, count: 1 });
    const confirmed = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      return user.signOut();
    }, t.authResult);
    assert.equal(confirmed, false);
    await t.page.reload();
    await t.page.waitForFunction(() => window.psg !== undefined);
    await t.page.evaluate(([app, authOrigin]) => new window.psg.PassageUser({ appId: app, authOrigin }), [t.app, auth.url]);
    await t.page.waitForFunction(() => localStorage.getItem("psg_pending_revocation") === null, null, { timeout: 5000 });
    const stats = await t.stats();
    assert.equal(stats.revoke, 2);
    assert.equal(stats.revoke_ok, 1);
    assert.equal(await serverAccepts(auth, t.app, t.authResult.refresh_token), false);
    await t.done();
  });
});

describe("userInfo with a bad currentuser reply", () => {
  for (const [label, spec, code] of [
    ["a truncated JSON body", { mode: "malformed", body: '{"user": {"id": ' }, "invalid_response"],
    ["a user that is not an object", { mode: "malformed", body: '{"user": 42}' }, "invalid_response"],
    ["a body without user", { mode: "malformed", body: "{}" }, "invalid_response"],
    ["an HTML page", { mode: "malformed", body: "<html>oops</html>" }, "invalid_response"],
    ["a 503", { status: 503 }, "server"],
    ["a 429", { status: 429 }, "rate_limited"],
    ["a dropped connection", { mode: "drop", count: 2 }, "network"],
  ]) {
    test(`${label}: ${code}, the session kept`, async () => {
      const t = await setup();
      await t.fault({ endpoint: "currentuser", count: 1, ...spec });
      const r = await t.page.evaluate(async (authResult) => {
        const user = window.make();
        user.setAuthResult(authResult);
        const start = Date.now();
        const result = await window.attempt(user.userInfo());
        const ms = Date.now() - start;
        return { result, ms, stored: { ...localStorage }, events: window.events, token: await user.getAuthToken() };
      }, t.authResult);
      assert.equal(r.result.ok, false, JSON.stringify(r.result));
      assert.equal(r.result.code, code);
      assert.equal(r.result.isPassageError, true);
      assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
      assert.equal(r.stored.psg_refresh_token, t.authResult.refresh_token);
      assert.equal(r.stored.psg_auth_token, t.authResult.auth_token);
      assert.equal(r.token, t.authResult.auth_token);
      assert.ok(!signedOut(r.events));
      assert.equal((await t.stats()).refresh, 0, "a bad currentuser reply is no reason to refresh");
      await auth.admin("DELETE", "/admin/faults");
      // And userInfo works once the server answers properly.
      const user = await t.page.evaluate(() => window.make().userInfo());
      assert.equal(user.email, t.email);
      await t.done();
    });
  }
});

describe("the browser offline", () => {
  test("getAuthToken offline: network in bounded time, session kept, fresh tokens still served; online again: it refreshes", async () => {
    const t = await setup();
    await t.page.evaluate(
      ([authResult, stale]) => {
        window.user = window.make();
        window.user.setAuthResult({ ...authResult, auth_token: stale });
      },
      [t.authResult, t.stale],
    );
    await t.context.setOffline(true);
    try {
      const r = await t.page.evaluate(async () => {
        const start = Date.now();
        const result = await window.attempt(window.user.getAuthToken());
        const ms = Date.now() - start;
        return { result, ms, online: navigator.onLine, rt: localStorage.getItem("psg_refresh_token"), events: window.events };
      });
      assert.equal(r.online, false);
      assert.equal(r.result.code, "network");
      assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
      assert.equal(r.rt, t.authResult.refresh_token);
      assert.ok(!signedOut(r.events));
      assert.equal((await t.stats()).refresh, 0, "nothing reached the server");
    } finally {
      await t.context.setOffline(false);
    }
    const r = await t.page.evaluate(async () => {
      const token = await window.attempt(window.user.getAuthToken());
      return { token, rt: localStorage.getItem("psg_refresh_token") };
    });
    assert.equal(r.token.ok, true, r.token.code);
    assert.notEqual(r.token.value, t.stale);
    assert.equal((await t.stats()).refresh, 1);
    assert.equal(await serverAccepts(auth, t.app, r.rt), true);
    await t.done();
  });

  test("a fresh token is handed out offline without any request", async () => {
    const t = await setup();
    await t.page.evaluate((authResult) => {
      window.user = window.make();
      window.user.setAuthResult(authResult);
    }, t.authResult);
    await t.context.setOffline(true);
    try {
      const r = await t.page.evaluate(async () => [await window.user.getAuthToken(), await window.user.authGuard()]);
      assert.deepEqual(r, [t.authResult.auth_token, true]);
    } finally {
      await t.context.setOffline(false);
    }
    await t.done();
  });
});

/** Makes every localStorage.setItem throw QuotaExceededError while `window.storageFull` is true (the library writes through Storage.prototype.setItem). */
function quotaScript() {
  const setItem = Storage.prototype.setItem;
  window.storageFull = false;
  window.refusedWrites = 0;
  Storage.prototype.setItem = function (key, value) {
    if (window.storageFull) {
      window.refusedWrites++;
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    }
    return setItem.call(this, key, value);
  };
}

describe("storage full (QuotaExceededError)", () => {
  test("during a refresh: storage, the new session kept in memory and handed out without a second refresh, written once storage frees up", async () => {
    const t = await setup({ initScript: quotaScript });
    const r = await t.page.evaluate(
      async ([authResult, stale]) => {
        window.user = window.make();
        window.user.setAuthResult({ ...authResult, auth_token: stale });
        window.storageFull = true;
        const start = Date.now();
        const first = await window.attempt(window.user.getAuthToken());
        const ms = Date.now() - start;
        const second = await window.attempt(window.user.getAuthToken());
        const third = await window.attempt(window.user.getAuthToken());
        return { first, ms, second, third, refused: window.refusedWrites, rt: localStorage.getItem("psg_refresh_token") };
      },
      [t.authResult, t.stale],
    );
    assert.equal(r.first.code, "storage");
    assert.equal(r.first.isPassageError, true);
    assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
    assert.ok(r.refused > 0, "the write was refused");
    assert.equal(r.second.ok, true, r.second.code);
    assert.notEqual(r.second.value, t.stale, "the refreshed token, kept in memory");
    assert.equal(r.third.value, r.second.value);
    assert.equal((await t.stats()).refresh, 1, "no second refresh");
    // Storage frees up: the next call that reads the store writes the session first.
    const after = await t.page.evaluate(async () => {
      window.storageFull = false;
      const guard = await window.user.authGuard();
      return { guard, token: await window.user.getAuthToken(), stored: { ...localStorage }, events: window.events };
    });
    assert.equal(after.guard, true);
    assert.equal(after.token, r.second.value);
    assert.equal(after.stored.psg_auth_token, r.second.value, "nothing lost: the refreshed session reaches storage");
    assert.notEqual(after.stored.psg_refresh_token, t.authResult.refresh_token);
    assert.ok(!signedOut(after.events));
    assert.equal((await t.stats()).refresh, 1);
    assert.equal(await serverAccepts(auth, t.app, after.stored.psg_refresh_token), true, "the stored refresh token is the live one");
    await t.done();
  });

  test("the refresh after a refused write uses the rotated refresh token from memory, not the stale one in storage", async () => {
    const t = await setup({ initScript: quotaScript, settings: { auth_token_lifetime: 3 } });
    const r = await t.page.evaluate(
      async ([authResult, stale]) => {
        window.user = window.make();
        window.user.setAuthResult({ ...authResult, auth_token: stale });
        window.storageFull = true;
        const first = await window.attempt(window.user.getAuthToken());
        // The 3 s token goes stale: the next call must refresh again, still with storage full.
        await new Promise((ok) => setTimeout(ok, 3200));
        const second = await window.attempt(window.user.getAuthToken());
        return { first, second, events: window.events };
      },
      [t.authResult, t.stale],
    );
    assert.equal(r.first.code, "storage");
    assert.equal(r.second.code, "storage", "a second refresh whose write is refused again");
    assert.ok(!signedOut(r.events), "no refresh with a rotated token (which the server would refuse)");
    assert.equal((await t.stats()).refresh_ok, 2);
    const token = await t.page.evaluate(() => window.user.getAuthToken());
    assert.ok(token !== t.stale);
    await t.done();
  });

  // A refused write must not leave the refresh token that refresh rotated
  // away in localStorage: another tab (or a reload) would refresh with it,
  // and the server's reuse detection would revoke the whole session.
  test("while storage is full, another tab never refreshes with the refresh token this tab rotated away", async () => {
    const t = await setup({ initScript: quotaScript });
    const b = await openPage(t.context, site.url);
    await installHelpers(b, t.app, auth.url);
    const first = await t.page.evaluate(
      async ([authResult, stale]) => {
        window.user = window.make();
        window.user.setAuthResult({ ...authResult, auth_token: stale });
        window.storageFull = true;
        return window.attempt(window.user.getAuthToken());
      },
      [t.authResult, t.stale],
    );
    assert.equal(first.code, "storage");
    const other = await b.evaluate(async () => window.attempt(window.make().getAuthToken()));
    const a = await t.page.evaluate(async () => {
      // Still full: the refresh works, its write is refused again.
      const refreshed = await window.attempt(window.user.refresh());
      window.storageFull = false;
      // The next call that reads the store writes the session first.
      const later = await window.attempt(window.user.authGuard());
      return { refreshed, later, rt: localStorage.getItem("psg_refresh_token"), events: window.events };
    });
    assert.ok(other.ok || other.code === "login_required", other.code);
    assert.equal(a.refreshed.code, "storage", `the tab with the live session was signed out: ${a.refreshed.code}`);
    assert.equal(a.later.ok, true, a.later.code);
    assert.ok(!signedOut(a.events));
    assert.equal(await serverAccepts(auth, t.app, a.rt), true, "the session written once storage frees up is the live one");
    await t.done();
  });

  test("setAuthResult while storage is full: no throw, the session works from memory", async () => {
    const t = await setup({ initScript: quotaScript });
    const r = await t.page.evaluate(async (authResult) => {
      window.storageFull = true;
      const user = window.make();
      user.setAuthResult(authResult);
      return { token: await window.attempt(user.getAuthToken()), stored: { ...localStorage } };
    }, t.authResult);
    assert.equal(r.token.ok, true, r.token.code);
    assert.equal(r.token.value, t.authResult.auth_token);
    assert.equal(r.stored.psg_refresh_token, undefined);
    await t.done();
  });
});

/** window.localStorage throws SecurityError, as in a sandboxed frame or with storage blocked. */
function noStorageScript() {
  Object.defineProperty(window, "localStorage", {
    configurable: true,
    get() {
      throw new DOMException("Access is denied for this document.", "SecurityError");
    },
  });
}

describe("localStorage disabled (SecurityError)", () => {
  for (const tokenStore of [undefined, "localStorage"]) {
    test(`tokenStore ${tokenStore ?? "by default"}: falls back to memory, and the whole session works`, async () => {
      const t = await setup({ initScript: noStorageScript });
      const r = await t.page.evaluate(
        async ([authResult, stale, tokenStore]) => {
          let denied;
          try {
            void window.localStorage;
          } catch (e) {
            denied = e.name;
          }
          const user = window.make(tokenStore ? { tokenStore } : {});
          user.setAuthResult({ ...authResult, auth_token: stale });
          const refreshed = await window.attempt(user.getAuthToken());
          const again = await window.attempt(user.getAuthToken());
          const forced = await window.attempt(user.refresh());
          const info = await window.attempt(user.userInfo());
          const signedOut = await user.signOut();
          const after = await window.attempt(user.getAuthToken());
          return { denied, refreshed, again, forced, email: info.value?.email, signedOut, after, cookie: document.cookie };
        },
        [t.authResult, t.stale, tokenStore],
      );
      assert.equal(r.denied, "SecurityError");
      assert.equal(r.refreshed.ok, true, r.refreshed.code);
      assert.equal(r.again.value, r.refreshed.value);
      assert.equal(r.forced.ok, true, r.forced.code);
      assert.notEqual(r.forced.value, r.refreshed.value);
      assert.equal(r.email, t.email);
      assert.equal(r.signedOut, true);
      assert.equal(r.after.code, "login_required");
      assert.equal(r.cookie, "", "the memory store writes no cookie");
      assert.deepEqual(t.page.errors, []);
      const stats = await t.stats();
      assert.equal(stats.refresh, 2);
      assert.equal(stats.revoke_ok, 1);
      await t.done();
    });
  }
});

/** Installs `window.store`: a custom store whose setTokens / clearTokens fail on demand ("throw", "reject", "hang"). */
function installFlakyStore(page) {
  return page.evaluate(() => {
    const data = {};
    window.storeMode = { setTokens: "ok", clearTokens: "ok" };
    const fail = (method) => {
      const mode = window.storeMode[method];
      if (mode === "throw") throw new Error(`${method} failed`);
      if (mode === "reject") return Promise.reject(new Error(`${method} failed`));
      if (mode === "hang") return new Promise(() => {});
      return undefined;
    };
    window.store = {
      data,
      getAuthToken: async () => data.authToken,
      getRefreshToken: async () => data.refreshToken,
      async setTokens(t) {
        const failed = fail("setTokens");
        if (failed) return failed;
        Object.assign(data, t);
      },
      clearTokens() {
        const failed = fail("clearTokens");
        if (failed) return failed;
        for (const k of Object.keys(data)) delete data[k];
        return Promise.resolve();
      },
    };
  });
}

describe("a custom store that fails while a refresh writes", () => {
  for (const mode of ["reject", "hang"]) {
    test(`setTokens that ${mode === "hang" ? "never resolves" : "rejects"}: storage in bounded time, the new session kept in memory, written once the store works`, async () => {
      const t = await setup();
      await installFlakyStore(t.page);
      const r = await t.page.evaluate(
        async ([authResult, stale, mode]) => {
          // The store's timeout is the request timeout: long enough for a
          // refresh on a loaded machine, short enough to bound a hang.
          window.user = window.make({ tokenStore: window.store, requestTimeoutInSeconds: 2 });
          window.user.setAuthResult({ ...authResult, auth_token: stale });
          // The store has the session before it starts failing.
          while (window.store.data.authToken !== stale) await new Promise((ok) => setTimeout(ok, 5));
          window.storeMode.setTokens = mode;
          const start = Date.now();
          const first = await window.attempt(window.user.getAuthToken());
          const ms = Date.now() - start;
          const second = await window.attempt(window.user.getAuthToken());
          return { first, ms, second, stored: { ...window.store.data } };
        },
        [t.authResult, t.stale, mode],
      );
      assert.equal(r.first.code, "storage");
      assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
      assert.equal(r.second.ok, true, r.second.code);
      assert.notEqual(r.second.value, t.stale);
      assert.equal(r.stored.refreshToken, t.authResult.refresh_token, "the store kept the old session");
      assert.equal((await t.stats()).refresh, 1, "no second refresh");
      const after = await t.page.evaluate(async () => {
        window.storeMode.setTokens = "ok";
        const guard = await window.user.authGuard();
        return { guard, stored: { ...window.store.data }, events: window.events };
      });
      assert.equal(after.guard, true);
      assert.equal(after.stored.authToken, r.second.value, "nothing lost: the store gets the refreshed session");
      assert.ok(!signedOut(after.events));
      assert.equal(await serverAccepts(auth, t.app, after.stored.refreshToken), true);
      await t.done();
    });
  }

  // A custom store is not read at construction (only localStorage and
  // memory can be read synchronously): a first refresh() must still force
  // a refresh, not take the store's session for another tab's result.
  test("refresh() as the first call on a custom store forces a refresh", async () => {
    const t = await setup();
    await installFlakyStore(t.page);
    const r = await t.page.evaluate(async (authResult) => {
      Object.assign(window.store.data, { authToken: authResult.auth_token, refreshToken: authResult.refresh_token });
      return window.attempt(window.make({ tokenStore: window.store }).refresh());
    }, t.authResult);
    assert.equal(r.ok, true, r.code);
    assert.equal((await t.stats()).refresh, 1, "refresh() sent no request");
    assert.notEqual(r.value, t.authResult.auth_token);
    await t.done();
  });

  // A custom store whose clearTokens fails must not bring the signed-out
  // session back on the next read.
  for (const mode of ["reject", "hang"]) {
    test(`clearTokens that ${mode === "hang" ? "never resolves" : "rejects"} during signOut: signOut still settles, revokes, and no token is handed out`, async () => {
      const t = await setup();
      await installFlakyStore(t.page);
      const r = await t.page.evaluate(
        async ([authResult, mode]) => {
          const user = window.make({ tokenStore: window.store, requestTimeoutInSeconds: 2 });
          user.setAuthResult(authResult);
          while (window.store.data.authToken !== authResult.auth_token) await new Promise((ok) => setTimeout(ok, 5));
          window.storeMode.clearTokens = mode;
          const start = Date.now();
          const confirmed = await user.signOut();
          const ms = Date.now() - start;
          const next = await window.attempt(user.getAuthToken());
          return { confirmed, ms, next, events: window.events };
        },
        [t.authResult, mode],
      );
      assert.equal(r.confirmed, true);
      assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
      assert.ok(r.events.some(([e, reason]) => e === "SIGNED_OUT" && reason === "sign_out"));
      assert.equal(r.next.ok, false, "a token was handed out after signOut");
      assert.equal(r.next.code, "login_required");
      assert.equal(await serverAccepts(auth, t.app, t.authResult.refresh_token), false, "the refresh token is revoked");
      await t.done();
    });
  }
});

describe("the auth server restarted mid-session", () => {
  test("down: network with the session kept; restarted on the same port and data: the session goes on, reuse detection survives", async () => {
    let own = await startAuthServer();
    const port = new URL(own.url).port;
    try {
      const t = await setup({ server: own });
      await t.page.evaluate((authResult) => {
        window.user = window.make();
        window.user.setAuthResult(authResult);
      }, t.authResult);
      const before = await t.page.evaluate(async () => ({ token: await window.user.refresh(), rt: localStorage.getItem("psg_refresh_token") }));
      await own.stop();
      const down = await t.page.evaluate(async () => {
        const start = Date.now();
        const result = await window.attempt(window.user.refresh());
        const ms = Date.now() - start;
        return { result, ms, rt: localStorage.getItem("psg_refresh_token"), events: window.events };
      });
      assert.equal(down.result.code, "network");
      assert.ok(down.ms < 10_000, `took ${down.ms} ms`);
      assert.equal(down.rt, before.rt, "the session is kept while the server is down");
      assert.ok(!signedOut(down.events));

      own = await startAuthServer(["--addr", `127.0.0.1:${port}`], own.dataDir);
      assert.equal(new URL(own.url).port, port);
      const r = await t.page.evaluate(async () => {
        const info = await window.attempt(window.user.userInfo());
        const refreshed = await window.attempt(window.user.refresh());
        return { info, refreshed, rt: localStorage.getItem("psg_refresh_token"), events: window.events };
      });
      assert.equal(r.info.ok, true, `a token issued before the restart is still accepted: ${r.info.code}`);
      assert.equal(r.info.value.email, t.email);
      assert.equal(r.refreshed.ok, true, r.refreshed.code);
      assert.notEqual(r.refreshed.value, before.token);
      assert.notEqual(r.rt, before.rt);
      assert.ok(!signedOut(r.events));
      // The rotation before the restart is remembered: the first refresh token is refused.
      assert.equal(await serverAccepts(own, t.app, t.authResult.refresh_token), false);
      await t.done();
    } finally {
      await own.stop();
    }
  });
});
