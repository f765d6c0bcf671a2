// docs/contract.md §4 to §6 in one tab: the page (static server) and the local auth
// server listen on different ports, so every request is cross-origin. Requests
// are counted on the server side.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  installHelpers,
  newApp,
  openPage,
  serverAccepts as accepts,
  staleJwt as stale,
  startAll,
  stopAll,
  until,
} from "./harness.mjs";

let browser, site, auth;
before(async () => ({ browser, site, auth } = await startAll()));
after(() => stopAll({ browser, site, auth }));

/** A new app on the auth server (isolated counters and faults), a signed-in AuthResult and a page. */
async function setup(settings = {}, options = {}) {
  const t = await newApp(auth, "refresh", settings, options);
  const context = await browser.newContext();
  const page = await openPage(context, site.url);
  await installHelpers(page, t.app, auth.url);
  return { ...t, page, done: () => context.close() };
}

const staleJwt = (app) => stale(auth.url, app);
const serverAccepts = (app, rt) => accepts(auth, app, rt);

describe("the fast path", () => {
  test("a fresh token costs no request and no storage read", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      // Start-up work (the pending-revocation check) is done by then.
      await new Promise((ok) => setTimeout(ok, 100));
      let reads = 0;
      const getItem = Storage.prototype.getItem;
      Storage.prototype.getItem = function (...args) {
        reads++;
        return getItem.apply(this, args);
      };
      const tokens = [];
      for (let i = 0; i < 1000; i++) tokens.push(await user.getAuthToken());
      Storage.prototype.getItem = getItem;
      return { reads, same: tokens.every((x) => x === authResult.auth_token) };
    }, t.authResult);
    assert.deepEqual(r, { reads: 0, same: true });
    assert.equal((await t.stats()).refresh, 0);
    await t.done();
  });
});

describe("refresh", () => {
  test("50 concurrent calls on a stale token cause exactly one request, and storage is written first", async () => {
    const t = await setup();
    const r = await t.page.evaluate(
      async ([authResult, stale]) => {
        const user = window.make();
        user.setAuthResult({ ...authResult, auth_token: stale });
        let storedAtFirstResolve;
        const calls = Array.from({ length: 50 }, () =>
          user.getAuthToken().then((token) => {
            storedAtFirstResolve ??= { auth: localStorage.getItem("psg_auth_token"), rt: localStorage.getItem("psg_refresh_token"), token };
            return token;
          }),
        );
        const tokens = await Promise.all(calls);
        return { tokens: [...new Set(tokens)], storedAtFirstResolve, rt: localStorage.getItem("psg_refresh_token"), events: window.events };
      },
      [t.authResult, staleJwt(t.app)],
    );
    const stats = await t.stats();
    assert.equal(stats.refresh, 1);
    assert.equal(r.tokens.length, 1);
    assert.notEqual(r.tokens[0], t.authResult.auth_token);
    assert.equal(r.storedAtFirstResolve.auth, r.tokens[0]);
    assert.notEqual(r.storedAtFirstResolve.rt, t.authResult.refresh_token, "the rotated refresh token is stored");
    assert.deepEqual(r.events, [["SIGNED_IN", null], ["TOKEN_REFRESHED", null]]);
    assert.equal(await serverAccepts(t.app, r.rt), true);
    await t.done();
  });

  test("refresh() forces one refresh and concurrent calls join it", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const [a, b, c] = await Promise.all([user.refresh(), user.refresh(), user.getAuthToken()]);
      return { a, b, c, fresh: await user.getAuthToken() };
    }, t.authResult);
    assert.equal((await t.stats()).refresh, 1);
    assert.notEqual(r.a, t.authResult.auth_token);
    assert.equal(r.a, r.b);
    assert.equal(r.fresh, r.a);
    await t.done();
  });

  test("a malformed stored auth token with a refresh token refreshes, and later calls still work", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async (rt) => {
      localStorage.setItem("psg_auth_token", "garbage");
      localStorage.setItem("psg_refresh_token", rt);
      const user = window.make();
      const first = await window.attempt(user.getAuthToken());
      const second = await window.attempt(user.getAuthToken());
      return { first, second };
    }, t.authResult.refresh_token);
    assert.equal(r.first.ok, true, r.first.code);
    assert.deepEqual(r.second, r.first);
    assert.equal((await t.stats()).refresh, 1);
    await t.done();
  });

  test("a three-second token is used for most of its life, not refreshed on every call", async () => {
    // The timing is the core's (a tenth of the lifetime as leeway), checked
    // to the millisecond in the simulation; here, what a loaded machine
    // cannot blur: no call before exp - leeway refreshes, the first after
    // exp does, once.
    const t = await setup({ auth_token_lifetime: 3 });
    const r = await t.page.evaluate(async ([authResult, statsUrl]) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const exp = JSON.parse(atob(authResult.auth_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp * 1000;
      const early = [];
      while (Date.now() < exp - 400) {
        const at = Date.now();
        early.push([at, await user.getAuthToken()]);
        await new Promise((ok) => setTimeout(ok, 50));
      }
      await new Promise((ok) => setTimeout(ok, Math.max(0, exp + 100 - Date.now())));
      const late = await user.getAuthToken();
      return { early, exp, late };
    }, [t.authResult]);
    assert.ok(r.early.length >= 1);
    for (const [at, token] of r.early) {
      assert.equal(token, t.authResult.auth_token, `a refresh ${r.exp - at} ms before exp`);
    }
    assert.notEqual(r.late, t.authResult.auth_token);
    assert.equal((await t.stats()).refresh, 1);
    await t.done();
  });

  test("a server clock behind ours is corrected from the refreshed token's iat: no refresh storm", async () => {
    await auth.admin("POST", "/admin/clock", { offset_secs: -120 });
    try {
      const t = await setup({ auth_token_lifetime: 60 });
      const r = await t.page.evaluate(async (authResult) => {
        const user = window.make();
        // By our clock this token expired a minute ago: it needs one refresh.
        user.setAuthResult(authResult);
        const tokens = [];
        for (let i = 0; i < 10; i++) tokens.push(await user.getAuthToken());
        return [...new Set(tokens)];
      }, t.authResult);
      assert.equal(r.length, 1);
      // One refresh, and one more to confirm the reading: a token issued
      // two minutes before by our clock may also be a pair sent again.
      assert.equal((await t.stats()).refresh, 2, "without skew correction every call would refresh");
      await t.done();
    } finally {
      await auth.admin("POST", "/admin/clock", { offset_secs: 0 });
    }
  });

  test("a server clock ahead of ours is corrected from the login's iat: the token is refreshed before the server's exp", async () => {
    await auth.admin("POST", "/admin/clock", { offset_secs: 120 });
    try {
      const t = await setup({ auth_token_lifetime: 3 });
      const r = await t.page.evaluate(async (authResult) => {
        const user = window.make();
        user.setAuthResult(authResult);
        await new Promise((ok) => setTimeout(ok, 3000));
        return user.getAuthToken();
      }, t.authResult);
      assert.notEqual(r, t.authResult.auth_token, "by our clock the token has 2 minutes left; by the server's it expired");
      assert.equal((await t.stats()).refresh, 1);
      await t.done();
    } finally {
      await auth.admin("POST", "/admin/clock", { offset_secs: 0 });
    }
  });
});

describe("session end", () => {
  test("a past refresh_token_expiration is login_required with no request, even with a fresh JWT", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async (authResult) => {
      // A session stored while it lasted, whose end has passed since.
      localStorage.setItem("psg_auth_token", authResult.auth_token);
      localStorage.setItem("psg_refresh_token", authResult.refresh_token);
      localStorage.setItem("psg_refresh_token_expiration", String(Math.floor(Date.now() / 1000) - 1));
      const user = window.make();
      const result = await window.attempt(user.getAuthToken());
      return { result, keys: Object.keys(localStorage).filter((k) => k !== "psg_pending_revocation"), events: window.events };
    }, t.authResult);
    assert.equal(r.result.code, "login_required");
    assert.deepEqual(r.keys, []);
    assert.deepEqual(r.events, [["SIGNED_OUT", "expired"]]);
    assert.equal((await t.stats()).refresh, 0);
    await t.done();
  });

  test("an AuthResult whose session has ended is refused; edge values of a server without refresh tokens are accepted", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      const now = Math.floor(Date.now() / 1000);
      const refused = (() => {
        try {
          user.setAuthResult({ ...authResult, refresh_token_expiration: now - 1 });
          return "accepted";
        } catch (e) {
          return [e.code, e.message];
        }
      })();
      const stored = Object.keys(localStorage);
      const kept = [];
      // No refresh token (""), and ends that mean "unknown": 0, negative, milliseconds.
      for (const [refresh_token, refresh_token_expiration] of [["", undefined], [authResult.refresh_token, 0], [authResult.refresh_token, -5], [authResult.refresh_token, Date.now() + 86_400_000]]) {
        user.setAuthResult({ auth_token: authResult.auth_token, refresh_token, refresh_token_expiration });
        const token = await window.attempt(user.getAuthToken());
        kept.push([token.value === authResult.auth_token, localStorage.getItem("psg_refresh_token"), localStorage.getItem("psg_refresh_token_expiration")]);
      }
      return { refused, stored, kept, events: window.events.map(([e]) => e) };
    }, t.authResult);
    assert.deepEqual(r.refused, ["invalid_auth_result", "refresh_token_expiration has passed: the session has ended"]);
    assert.deepEqual(r.stored, []);
    const rt = t.authResult.refresh_token;
    assert.deepEqual(r.kept, [[true, null, null], [true, rt, null], [true, rt, null], [true, rt, null]]);
    assert.ok(!r.events.includes("SIGNED_OUT"), JSON.stringify(r.events));
    assert.equal((await t.stats()).refresh, 0);
    await t.done();
  });

  test("setAuthResult replaces the whole session: no refresh into the previous user's session, which is revoked", async () => {
    const t = await setup();
    const r = await t.page.evaluate(
      async ([authResult, otherStale]) => {
        const user = window.make();
        user.setAuthResult(authResult);
        user.setAuthResult({ auth_token: otherStale });
        return { result: await window.attempt(user.getAuthToken()), rt: localStorage.getItem("psg_refresh_token") };
      },
      [t.authResult, staleJwt(t.app)],
    );
    assert.equal(r.result.code, "login_required");
    assert.equal(r.rt, null);
    // The revocation goes out in the background.
    await until(async () => (await t.stats()).revoke === 1, 10_000, "the previous token's revocation");
    const stats = await t.stats();
    assert.equal(stats.refresh, 0);
    assert.equal(stats.revoke, 1);
    assert.equal(await serverAccepts(t.app, t.authResult.refresh_token), false);
    await t.done();
  });
});

describe("refresh failures", () => {
  /** A stale session in the page; returns the outcome of getAuthToken and what is stored after. */
  async function failOnce(t, options = {}) {
    return t.page.evaluate(
      async ([authResult, stale, options]) => {
        const user = window.make(options);
        user.setAuthResult({ ...authResult, auth_token: stale });
        const start = Date.now();
        const result = await window.attempt(user.getAuthToken());
        const ms = Date.now() - start;
        return { result, ms, rt: localStorage.getItem("psg_refresh_token"), events: window.events };
      },
      [t.authResult, staleJwt(t.app), options],
    );
  }

  for (const status of [401, 403, 404]) {
    test(`${status} clears the session and fires SIGNED_OUT`, async () => {
      const t = await setup();
      await t.fault({ status, count: 1 });
      const r = await failOnce(t);
      assert.equal(r.result.code, "login_required");
      assert.ok(r.result.isPassageError);
      assert.equal(r.rt, null);
      assert.deepEqual(r.events.at(-1), ["SIGNED_OUT", "refresh_refused"]);
      assert.equal((await t.stats()).refresh, 1, "a refusal is not retried");
      await t.done();
    });
  }

  test("a refresh token the server no longer knows is login_required", async () => {
    const t = await setup();
    assert.equal(await serverAccepts(t.app, t.authResult.refresh_token), true); // rotates it away
    const r = await failOnce(t);
    assert.equal(r.result.code, "login_required");
    assert.equal(r.rt, null);
    await t.done();
  });

  // Chromium itself resends a request once when a kept-alive connection is
  // closed before any reply, so a dropped connection may cost two requests
  // per attempt.
  for (const [label, spec, code, maxRequests] of [
    ["5xx", { status: 500 }, "server", 3],
    ["502", { status: 502 }, "server", 3],
    ["503", { status: 503 }, "server", 3],
    ["a dropped connection", { mode: "drop" }, "network", 6],
    ["429 without Retry-After", { status: 429 }, "rate_limited", 3],
  ]) {
    test(`${label} is retried 3 times in all, then rejected ${code} with the session kept`, async () => {
      const t = await setup();
      await t.fault({ ...spec, count: maxRequests });
      const r = await failOnce(t);
      assert.equal(r.result.code, code, r.result.code);
      assert.equal(r.rt, t.authResult.refresh_token, "the session is kept");
      const { refresh } = await t.stats();
      assert.ok(refresh >= 3 && refresh <= maxRequests, `${refresh} requests`);
      await auth.admin("DELETE", "/admin/faults");
      assert.ok(!r.events.some(([e]) => e === "SIGNED_OUT"));
      assert.ok(r.ms >= 150 + 300, `backoff waited only ${r.ms} ms`);
      // And the session still works once the server recovers.
      const token = await t.page.evaluate(() => window.make().getAuthToken());
      assert.notEqual(token, t.authResult.auth_token);
      await t.done();
    });
  }

  test("two transient failures then success: the caller gets the token", async () => {
    const t = await setup();
    await t.fault({ status: 503, count: 2 });
    const r = await failOnce(t);
    assert.equal(r.result.ok, true);
    assert.equal((await t.stats()).refresh, 3);
    await t.done();
  });

  test("Retry-After up to 10 s is honoured", async () => {
    const t = await setup();
    await t.fault({ status: 429, retry_after: 1, count: 1 });
    const r = await failOnce(t);
    assert.equal(r.result.ok, true);
    assert.ok(r.ms >= 1000, `retried after ${r.ms} ms`);
    assert.equal((await t.stats()).refresh, 2);
    await t.done();
  });

  test("a Retry-After over 10 s is reported at once as rate_limited with the seconds", async () => {
    const t = await setup();
    await t.fault({ status: 429, retry_after: 30, count: 1 });
    const r = await failOnce(t);
    assert.equal(r.result.code, "rate_limited");
    assert.equal(r.result.retryAfter, 30);
    assert.equal((await t.stats()).refresh, 1);
    assert.equal(r.rt, t.authResult.refresh_token);
    await t.done();
  });

  test("a reply slower than the timeout is a network error after bounded attempts, never a hang", async () => {
    const t = await setup();
    // The server would answer after a minute; three attempts of 0.5 s and
    // their backoff take about 2 s (a bound with ample margin for a loaded
    // machine, far below the server's answer).
    await t.fault({ delay_ms: 60_000, count: 3 });
    const r = await failOnce(t, { requestTimeoutInSeconds: 0.5 });
    assert.equal(r.result.code, "network");
    assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
    assert.equal(r.rt, t.authResult.refresh_token);
    await t.done();
  });

  test("a 200 that is not an auth_result is invalid_response and the old tokens are kept", async () => {
    for (const body of [undefined, '{"auth_result":{"auth_token":42}}', '{"auth_result":{"auth_token":"x.y.z"}}', "[]"]) {
      const t = await setup();
      await t.fault({ mode: "malformed", count: 1, ...(body ? { body } : {}) });
      const r = await failOnce(t);
      assert.equal(r.result.code, "invalid_response", body);
      assert.equal(r.rt, t.authResult.refresh_token);
      assert.equal((await t.stats()).refresh, 1);
      await t.done();
    }
  });
});

describe("signOut", () => {
  test("clears everything at once, fires SIGNED_OUT, then revokes with the server", async () => {
    const t = await setup();
    await t.fault({ endpoint: "revoke", delay_ms: 1000, count: 1 });
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const pending = user.signOut();
      const during = {
        sync: await window.attempt(user.getAuthToken()),
        keys: Object.keys(localStorage),
        cookie: document.cookie,
        events: [...window.events],
      };
      const confirmed = await pending;
      return { during, confirmed, after: Object.keys(localStorage) };
    }, t.authResult);
    assert.equal(r.during.sync.code, "login_required");
    assert.deepEqual(r.during.keys, ["psg_pending_revocation"]);
    assert.equal(r.during.cookie, "");
    assert.deepEqual(r.during.events, [["SIGNED_IN", null], ["SIGNED_OUT", "sign_out"]]);
    assert.equal(r.confirmed, true);
    assert.deepEqual(r.after, []);
    assert.equal(await serverAccepts(t.app, t.authResult.refresh_token), false);
    await t.done();
  });

  for (const status of [401, 404]) {
    test(`a ${status} on revoke counts as confirmed`, async () => {
      const t = await setup();
      await t.fault({ endpoint: "revoke", status, count: 1 });
      const r = await t.page.evaluate(async (authResult) => {
        const user = window.make();
        user.setAuthResult(authResult);
        return { confirmed: await user.signOut(), keys: Object.keys(localStorage) };
      }, t.authResult);
      assert.deepEqual(r, { confirmed: true, keys: [] });
      await t.done();
    });
  }

  test("an unreachable server: false, only a pending revocation kept, retried on the next page load", async () => {
    const t = await setup();
    await t.fault({ endpoint: "revoke", status: 503, count: 1 });
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      return { confirmed: await user.signOut(), stored: { ...localStorage } };
    }, t.authResult);
    assert.equal(r.confirmed, false);
    assert.deepEqual(r.stored, { psg_pending_revocation: JSON.stringify([t.authResult.refresh_token]) });
    // The pending token is never used to refresh.
    const still = await t.page.evaluate(() => window.attempt(window.make().getAuthToken()));
    assert.equal(still.code, "login_required");
    // Next page load: the new client retries the revocation.
    await t.page.reload();
    await t.page.waitForFunction(() => window.psg !== undefined);
    await t.page.evaluate(([app, authOrigin]) => new window.psg.PassageUser({ appId: app, authOrigin }), [t.app, auth.url]);
    await t.page.waitForFunction(() => localStorage.getItem("psg_pending_revocation") === null, null, { timeout: 5000 });
    assert.equal(await serverAccepts(t.app, t.authResult.refresh_token), false);
    await t.done();
  });

  test("offline: false, then the revocation is retried when the browser comes back online", async () => {
    const t = await setup();
    await t.page.evaluate((authResult) => {
      window.user = window.make();
      window.user.setAuthResult(authResult);
    }, t.authResult);
    await t.page.context().setOffline(true);
    const confirmed = await t.page.evaluate(() => window.user.signOut());
    assert.equal(confirmed, false);
    assert.equal((await t.stats()).revoke, 0, "nothing reached the server");
    await t.page.context().setOffline(false);
    await t.page.waitForFunction(() => localStorage.getItem("psg_pending_revocation") === null, null, { timeout: 5000 });
    assert.equal((await t.stats()).revoke, 1);
    assert.equal(await serverAccepts(t.app, t.authResult.refresh_token), false);
    await t.done();
  });

  test("a revoke slower than the timeout resolves false, never hangs", async () => {
    const t = await setup();
    await t.fault({ endpoint: "revoke", delay_ms: 60_000, count: 1 });
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make({ requestTimeoutInSeconds: 0.5 });
      user.setAuthResult(authResult);
      const start = Date.now();
      return { confirmed: await user.signOut(), ms: Date.now() - start };
    }, t.authResult);
    assert.equal(r.confirmed, false);
    // Long before the server's answer (a minute): the 0.5 s timeout ended it.
    assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
    await t.done();
  });
});

describe("userInfo", () => {
  test("returns the user, refreshing once and retrying after a 401", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      return user.userInfo();
    }, t.authResult);
    assert.equal(r.email, t.email);
    await t.fault({ endpoint: "currentuser", status: 401, count: 1 });
    const again = await t.page.evaluate(() => window.make().userInfo());
    assert.equal(again.email, r.email);
    const stats = await t.stats();
    assert.equal(stats.currentuser, 3);
    assert.equal(stats.refresh, 1);
    await t.done();
  });

  test("is undefined when signed out", async () => {
    const t = await setup({}, { login: false });
    assert.equal(await t.page.evaluate(async () => (await window.make().userInfo()) === undefined), true);
    // Signed out, nothing is sent (docs/contract.md §4).
    const stats = await t.stats();
    assert.equal(stats.currentuser, 0, "no GET /currentuser");
    assert.equal(stats.refresh, 0, "no refresh");
    await t.done();
  });
});

describe("onAuthStateChange", () => {
  test("fires in order, unsubscribes, survives a throwing listener, and lets a listener call back in", async () => {
    const t = await setup();
    const r = await t.page.evaluate(
      async ([authResult, stale]) => {
        const user = window.make();
        const seen = [];
        const inner = [];
        user.onAuthStateChange(() => {
          throw new Error("a listener's bug");
        });
        const off = user.onAuthStateChange((event) => seen.push(event));
        user.onAuthStateChange((event) => {
          if (event === "TOKEN_REFRESHED") user.getAuthToken().then((tok) => inner.push(typeof tok));
        });
        user.setAuthResult({ ...authResult, auth_token: stale });
        await user.getAuthToken();
        off();
        await user.signOut();
        return { seen, inner };
      },
      [t.authResult, staleJwt(t.app)],
    );
    assert.deepEqual(r.seen, ["SIGNED_IN", "TOKEN_REFRESHED"]);
    assert.deepEqual(r.inner, ["string"]);
    await t.done();
  });
});
