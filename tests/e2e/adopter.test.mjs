// What a careful adopter tries before relying on the package: a strict
// Content-Security-Policy, a long task between two calls, two apps on one
// origin, listeners that unsubscribe each other, instrumentation installed
// after createFetch, and a browser that knows it is offline.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  fakeJwt,
  installHelpers,
  launchBrowser,
  newApp,
  nowS,
  openPage,
  serverAccepts,
  startAuthServer,
  startStatic,
  until,
} from "./harness.mjs";

let browser, site, auth;
before(async () => {
  // Pages under /csp/ carry the policy their name says, as a real header.
  const policies = {
    "/csp/strict.html": "script-src 'self'",
    "/csp/wasm.html": "script-src 'self' 'wasm-unsafe-eval'",
  };
  const page = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module" src="/tests/e2e/pages/csp-app.js"></script>`;
  [site, auth] = await Promise.all([
    startStatic(undefined, {
      handle(req, res) {
        const policy = policies[new URL(req.url, "http://x").pathname];
        if (!policy) return false;
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-security-policy": policy });
        res.end(page);
        return true;
      },
    }),
    startAuthServer(),
  ]);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await site?.close();
  await auth?.stop();
});

async function setup(settings = {}) {
  const t = await newApp(auth, "adopter", settings);
  const context = await browser.newContext();
  const page = await openPage(context, site.url);
  await installHelpers(page, t.app, auth.url);
  return { ...t, context, page, done: () => context.close() };
}

describe("a strict Content-Security-Policy", () => {
  test("without 'wasm-unsafe-eval': the import does not throw, the rest of the app runs, every method reports unsupported", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(site.url + "/csp/strict.html");
    await page.waitForFunction(() => window.cspResult !== undefined);
    const r = await page.evaluate(() => window.cspResult);
    // A module the app imports after the package evaluated.
    assert.equal(r.later, true);
    assert.equal(r.constructed, true);
    assert.deepEqual(r.asyncCodes, ["unsupported", "unsupported", "unsupported", "unsupported", "unsupported"]);
    assert.deepEqual(r.syncCodes, ["unsupported", "unsupported"]);
    assert.equal(r.isPassageError, true);
    assert.match(r.message, /'wasm-unsafe-eval'/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("with 'wasm-unsafe-eval': the package works", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(site.url + "/csp/wasm.html");
    await page.waitForFunction(() => window.cspResult !== undefined);
    const r = await page.evaluate(() => window.cspResult);
    assert.equal(r.later, true);
    assert.deepEqual(r.asyncCodes, ["login_required", "ok", "login_required", "ok", "ok"]);
    assert.deepEqual(r.syncCodes, ["invalid_auth_result", "ok"]);
    await context.close();
  });
});

describe("a long task between two calls", () => {
  test("a token that expired during the task is never handed out: the second call refreshes", async () => {
    const t = await setup({ auth_token_lifetime: 3 });
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const claims = (token) => JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      const { exp } = claims(authResult.auth_token);
      // One task: a call, then a long task (as a confirm() dialog left open
      // would be) until past the token's exp, then a call.
      const first = user.getAuthToken();
      while (Date.now() < exp * 1000 + 500);
      const second = user.getAuthToken();
      const late = Date.now();
      const [a, b] = await Promise.all([first, second]);
      return { sameAsLogin: a === authResult.auth_token, refreshed: b !== authResult.auth_token, expAfter: claims(b).exp * 1000 > late };
    }, t.authResult);
    assert.deepEqual(r, { sameAsLogin: true, refreshed: true, expAfter: true });
    assert.equal((await t.stats()).refresh, 1);
    await t.done();
  });
});

describe("two Passage apps on one origin", () => {
  test("each instance sees only its own app's session; a sign-in replaces the other's and revokes it at its own app", async () => {
    const a = await newApp(auth, "appA");
    const b = await newApp(auth, "appB");
    const context = await browser.newContext();
    const page = await openPage(context, site.url);
    await installHelpers(page, a.app, auth.url);
    const r = await page.evaluate(
      async ([appB, authOrigin, loginA, loginB]) => {
        const A = window.make();
        const B = new window.psg.PassageUser({ appId: appB, authOrigin });
        const eventsB = [];
        B.onAuthStateChange((e, d) => eventsB.push([e, d.reason ?? null]));
        B.setAuthResult(loginB);
        // A finds app B's session in storage: not its own.
        const aToken = await window.attempt(A.getAuthToken());
        const aRefresh = await window.attempt(A.refresh());
        const aGuard = await A.authGuard();
        const bStillThere = localStorage.getItem("psg_refresh_token") === loginB.refresh_token;
        const bToken = await window.attempt(B.getAuthToken());
        // A signs in: it replaces B's session (one set of keys).
        A.setAuthResult(loginA);
        // B hears of it from the page's other instance.
        const deadline = Date.now() + 10_000;
        while (!eventsB.some(([e]) => e === "SIGNED_OUT") && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 5));
        const aNow = await window.attempt(A.getAuthToken());
        const bNow = await window.attempt(B.getAuthToken());
        return { aToken, aRefresh, aGuard, bStillThere, bToken, aNow, bNow, eventsB, stored: localStorage.getItem("psg_refresh_token") === loginA.refresh_token };
      },
      [b.app, auth.url, a.authResult, b.authResult],
    );
    assert.equal(r.aToken.code, "login_required");
    assert.equal(r.aRefresh.code, "login_required");
    assert.equal(r.aGuard, false);
    assert.equal(r.bStillThere, true, "A cleared B's session");
    assert.equal(r.bToken.value, b.authResult.auth_token);
    assert.equal(r.aNow.value, a.authResult.auth_token);
    assert.equal(r.bNow.code, "login_required");
    assert.deepEqual(r.eventsB, [["SIGNED_IN", null], ["SIGNED_OUT", "other_tab"]]);
    assert.equal(r.stored, true);
    // Nothing of B's was sent to A, and B's replaced token was revoked at B.
    assert.equal((await a.stats()).refresh, 0);
    await until(async () => (await b.stats()).revoke_ok === 1, 10_000, "B's replaced token to be revoked at B");
    assert.equal(await serverAccepts(auth, b.app, b.authResult.refresh_token), false);
    assert.equal(await serverAccepts(auth, a.app, a.authResult.refresh_token), true);
    await context.close();
  });
});

describe("listeners", () => {
  test("a listener removed by another during an event is not called for it, as with DOM events", async () => {
    const t = await setup();
    const calls = await t.page.evaluate((authResult) => {
      const user = window.make();
      const calls = [];
      let offSecond;
      user.onAuthStateChange((e) => {
        calls.push(["first", e]);
        offSecond?.(); // a component unmounted during the event
      });
      offSecond = user.onAuthStateChange((e) => calls.push(["second", e]));
      user.setAuthResult(authResult);
      return calls;
    }, t.authResult);
    assert.deepEqual(calls, [["first", "SIGNED_IN"]]);
    await t.done();
  });
});

describe("createFetch", () => {
  test("uses the global fetch of each call: instrumentation installed later sees the request", async () => {
    const t = await setup();
    const r = await t.page.evaluate(
      async ([authResult, authOrigin]) => {
        const user = window.make();
        user.setAuthResult(authResult);
        const apiFetch = user.createFetch({ origins: [authOrigin] });
        const seen = [];
        const original = window.fetch;
        window.fetch = (request) => (seen.push(request.headers.get("authorization") !== null), original(request));
        const res = await apiFetch(`${authOrigin}/v1/apps/${authResult.app}/demo/api/hello`);
        window.fetch = original;
        return { seen, status: res.status };
      },
      [{ ...t.authResult, app: t.app }, auth.url],
    );
    assert.deepEqual(r, { seen: [true], status: 200 });
    await t.done();
  });
});

describe("offline", () => {
  test("when the browser says it is offline, a refresh fails at once with network, sending nothing, and the session is kept", async () => {
    const t = await setup();
    const cdp = await t.context.newCDPSession(t.page);
    await t.page.evaluate((authResult) => {
      window.user = window.make();
      window.user.setAuthResult(authResult);
    }, t.authResult);
    await cdp.send("Network.emulateNetworkConditions", { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const r = await t.page.evaluate(async () => {
      const online = navigator.onLine;
      const result = await window.attempt(window.user.refresh());
      return { online, result, kept: localStorage.getItem("psg_refresh_token") !== null };
    });
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    assert.equal(r.online, false);
    assert.equal(r.result.code, "network");
    assert.equal(r.result.message, "the browser is offline");
    assert.equal(r.kept, true);
    assert.equal((await t.stats()).refresh, 0, "no attempt while offline");
    await t.done();
  });
});

describe("what a careful adopter hit, mended", () => {
  test("another app's AuthResult is refused at setAuthResult, naming that app, and nothing is stored", async () => {
    const a = await setup();
    const b = await newApp(auth, "other");
    const r = await a.page.evaluate(async (loginB) => {
      const user = window.make();
      let error;
      try {
        user.setAuthResult(loginB);
      } catch (e) {
        error = { code: e.code, message: e.message };
      }
      return { error, keys: Object.keys(localStorage), events: window.events, token: await window.attempt(user.getAuthToken()) };
    }, b.authResult);
    assert.equal(r.error?.code, "invalid_auth_result");
    assert.ok(r.error.message.includes(`"${b.app}"`), r.error.message);
    assert.deepEqual(r.keys, []);
    assert.deepEqual(r.events, []);
    assert.equal(r.token.code, "login_required");
    await a.done();
  });

  test("a JWT whose exp is in milliseconds is refused at sign-in, and never handed out from storage", async () => {
    const t = await setup();
    const r = await t.page.evaluate(
      async ([authResult, msToken]) => {
        const user = window.make();
        let refused;
        try {
          user.setAuthResult({ ...authResult, auth_token: msToken });
        } catch (e) {
          refused = [e.code, e.message.includes("exp")];
        }
        // Another tab's write of such a token: not fresh, so it is refreshed.
        localStorage.setItem("psg_refresh_token", authResult.refresh_token);
        localStorage.setItem("psg_auth_token", msToken);
        const guard = await user.authGuard();
        const token = await window.attempt(user.getAuthToken());
        return { refused, guard, handedOut: token.value === msToken, ok: token.ok };
      },
      // 50 minutes ago, in milliseconds.
      [t.authResult, fakeJwt({ sub: "u", iat: nowS() - 3600, exp: (nowS() - 3000) * 1000, aud: [auth.url, t.app] })],
    );
    assert.deepEqual(r.refused, ["invalid_auth_result", true]);
    assert.equal(r.guard, false);
    assert.equal(r.handedOut, false);
    assert.equal(r.ok, true, "the stored refresh token buys a real token");
    assert.equal((await t.stats()).refresh, 1);
    await t.done();
  });

  test("a token over the size limit is refused with a message that says so", async () => {
    const t = await setup();
    const message = await t.page.evaluate((long) => {
      try {
        window.make().setAuthResult({ auth_token: long });
      } catch (e) {
        return e.message;
      }
    }, fakeJwt({ exp: nowS() + 60, pad: "x".repeat(17_000) }));
    assert.equal(message, "auth_token is longer than 16 KiB");
    await t.done();
  });

  test("free(), using and dispose() leave an instance that works, even from inside a listener, and hears no more events", async () => {
    const t = await setup();
    await t.page.evaluate((authResult) => (window.authResult = authResult), t.authResult);
    // As source text: Node, which reads this file, may not parse `using` yet.
    const r = await t.page.evaluate(`(async () => {
      const outcomes = [];
      const user = window.make();
      user.onAuthStateChange((event) => {
        if (event === "SIGNED_IN") user.free();
      });
      user.setAuthResult(window.authResult);
      outcomes.push((await window.attempt(user.getAuthToken())).ok);
      {
        using scoped = window.make();
        outcomes.push((await window.attempt(scoped.getAuthToken())).ok);
        window.scoped = scoped;
      }
      outcomes.push((await window.attempt(window.scoped.getAuthToken())).ok);
      // After dispose(), a listener added later hears nothing.
      const heard = [];
      window.scoped.onAuthStateChange((event) => heard.push(event));
      outcomes.push((await window.attempt(window.scoped.refresh())).ok);
      outcomes.push(await window.scoped.signOut());
      return { outcomes, heard };
    })()`);
    assert.deepEqual(r.outcomes, [true, true, true, true, true]);
    assert.deepEqual(r.heard, []);
    await t.done();
  });

  test("two instances of one page share a sign-out at once", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async (authResult) => {
      const u1 = window.make();
      const u2 = window.make();
      u1.setAuthResult(authResult);
      const before = await u2.getAuthToken();
      const signingOut = u1.signOut();
      const after = await window.attempt(u2.getAuthToken());
      await signingOut;
      return { before: before === authResult.auth_token, after: after.code };
    }, t.authResult);
    assert.deepEqual(r, { before: true, after: "login_required" });
    await t.done();
  });

  test("a clock far ahead asks the server before it drops a session whose end only it sees", async () => {
    // One hour of session left, and the page's clock two hours ahead.
    const t = await setup({ session_expiration: 3600 });
    await t.page.evaluate(() => {
      const now = Date.now;
      Date.now = () => now() + 7_200_000;
    });
    const r = await t.page.evaluate(async (authResult) => {
      // Stored by an earlier sign-in, before the clock moved.
      localStorage.setItem("psg_refresh_token", authResult.refresh_token);
      localStorage.setItem("psg_refresh_token_expiration", String(authResult.refresh_token_expiration));
      localStorage.setItem("psg_auth_token", authResult.auth_token);
      const user = window.make();
      const first = await window.attempt(user.getAuthToken());
      const again = await window.attempt(user.getAuthToken());
      return { first, again, events: window.events.map(([e]) => e) };
    }, t.authResult);
    assert.equal(r.first.ok, true, r.first.code);
    assert.equal(r.again.value, r.first.value, "the server's clock, once read, keeps the new token fresh");
    assert.ok(!r.events.includes("SIGNED_OUT"), String(r.events));
    const refreshes = (await t.stats()).refresh;
    // One to ask, one more to confirm a server clock behind ours.
    assert.ok(refreshes >= 1 && refreshes <= 2, `${refreshes} refreshes`);
    await t.done();
  });
});
