// Secrets stay out of what an app logs: over a whole session (sign-in,
// refreshes, every kind of failure, sign-out), no auth or refresh token, nor a
// recognisable piece of one, appears in a PassageError (message, stack, any
// property), in the page's console, in an uncaught error, or in an auth
// event's detail. The server-side checks (alg none, other keys, the JWKS,
// the server's logs) live in server/tests/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { demoLogin, installHelpers, newApp, openPage, staleJwt, startAll, stopAll } from "./harness.mjs";

let browser, site, auth;
before(async () => ({ browser, site, auth } = await startAll()));
after(() => stopAll({ browser, site, auth }));

/**
 * Every piece of a secret that would give it away: any 20 consecutive
 * characters of a refresh token, or of a JWT's payload or signature (a
 * message that quotes a shortened token still leaks it). A JWT's header is
 * the same for every token and is no secret.
 */
function pieces(secret) {
  const parts = secret.split(".");
  const secretParts = parts.length === 3 ? [parts[1], parts[2]] : [secret];
  const out = new Set();
  for (const p of secretParts) {
    if (p.length <= 20) out.add(p);
    for (let i = 0; i + 20 <= p.length; i++) out.add(p.slice(i, i + 20));
  }
  return out;
}

/** Installs the in-page recorders: errors caught from the API, event details, and every token seen. */
async function installRecorders(page) {
  await page.evaluate(() => {
    window.caught = [];
    window.details = [];
    window.secrets = new Set();
    window.note = (value) => {
      if (typeof value === "string" && value) window.secrets.add(value);
    };
    window.noteStorage = () => {
      for (const k of ["psg_auth_token", "psg_refresh_token"]) window.note(localStorage.getItem(k));
      for (const t of JSON.parse(localStorage.getItem("psg_pending_revocation") ?? "[]")) window.note(t);
    };
    /** Runs a call; records every trace of an error it throws. */
    window.record = async (label, call) => {
      try {
        const value = await call();
        window.note(value);
        window.noteStorage();
        return { label, ok: true };
      } catch (e) {
        window.noteStorage();
        const own = Object.getOwnPropertyNames(e).map((k) => `${k}=${String(e[k])}`);
        window.caught.push({ label, code: e?.code, isPassageError: e instanceof window.psg.PassageError, text: [String(e), e?.stack ?? "", JSON.stringify(e), ...own].join("\n") });
        return { label, ok: false, code: e?.code };
      }
    };
    window.watch = (user) =>
      user.onAuthStateChange((event, detail) => {
        window.details.push({ event, json: JSON.stringify(detail), keys: Object.getOwnPropertyNames(detail).sort() });
      });
  });
}

describe("no token in errors, console output or event details", () => {
  test("over a whole session with every kind of failure", async () => {
    const t = await newApp(auth, "security");
    const context = await browser.newContext();
    const page = await openPage(context, site.url);
    const consoleTexts = [];
    const consoleUrls = [];
    page.on("console", (m) => {
      consoleTexts.push(`${m.type()}: ${m.text()}`);
      consoleUrls.push(m.location()?.url ?? "");
    });
    const uncaught = [];
    page.on("pageerror", (e) => uncaught.push(`${e.name}: ${e.message}\n${e.stack ?? ""}`));
    await installHelpers(page, t.app, auth.url);
    await installRecorders(page);
    const stale = staleJwt(auth.url, t.app);
    const secrets = new Set([t.authResult.auth_token, t.authResult.refresh_token]);
    const outcomes = [];
    const step = async (fn, arg) => outcomes.push(...(await page.evaluate(fn, arg)));

    // Sign in, hand out, refresh (forced and on a stale token).
    await step(
      async ([authResult, stale]) => {
        window.user = window.make();
        window.watch(window.user);
        // A listener's own bug, reported as an uncaught error: not ours to hide, but it carries no token.
        window.user.onAuthStateChange(() => {
          throw new Error("a listener's bug");
        });
        const out = [];
        out.push(await window.record("setAuthResult", () => window.user.setAuthResult(authResult)));
        out.push(await window.record("getAuthToken", () => window.user.getAuthToken()));
        out.push(await window.record("refresh", () => window.user.refresh()));
        out.push(await window.record("userInfo", () => window.user.userInfo()));
        const rt = localStorage.getItem("psg_refresh_token");
        out.push(await window.record("setAuthResult stale", () => window.user.setAuthResult({ auth_token: stale, refresh_token: rt })));
        out.push(await window.record("getAuthToken stale", () => window.user.getAuthToken()));
        return out;
      },
      [t.authResult, stale],
    );

    // Transient failures of the refresh, each reported with its code.
    for (const [label, fault, options] of [
      ["server", { status: 500, count: 3 }, {}],
      ["rate_limited", { status: 429, retry_after: 30, count: 1 }, {}],
      ["invalid_response", { mode: "malformed", count: 1 }, {}],
      ["invalid_response (wrong shape)", { mode: "malformed", count: 1, body: '{"auth_result":{"auth_token":"not-a-jwt","refresh_token":"rt"}}' }, {}],
      ["network (drop)", { mode: "drop", count: 6 }, {}],
    ]) {
      await t.fault(fault);
      await step(
        async ([label, options]) => {
          const user = window.make(options);
          window.watch(user);
          return [await window.record(label, () => user.refresh())];
        },
        [label, options],
      );
      await auth.admin("DELETE", "/admin/faults");
    }

    // Failures of currentuser.
    for (const [label, fault] of [
      ["userInfo malformed", { endpoint: "currentuser", mode: "malformed", count: 1 }],
      ["userInfo 503", { endpoint: "currentuser", status: 503, count: 1 }],
    ]) {
      await t.fault(fault);
      await step(async (label) => [await window.record(label, () => window.make().userInfo())], label);
      await auth.admin("DELETE", "/admin/faults");
    }

    /** A new session of the same user (noted as a secret). */
    const login = async () => {
      const r = await demoLogin(auth, t.app, t.email);
      secrets.add(r.auth_token).add(r.refresh_token);
      return r;
    };

    // Replies slower than the timeout. The server still handles them late,
    // so the session's token is rotated behind the client's back and its
    // reuse then revokes the session: use a session of its own.
    await t.fault({ delay_ms: 3000, count: 3 });
    await step(async (authResult) => {
      const user = window.make({ requestTimeoutInSeconds: 0.3, tokenStore: "memory" });
      window.watch(user);
      user.setAuthResult(authResult);
      return [await window.record("network (timeout)", () => user.refresh())];
    }, await login());
    await auth.admin("DELETE", "/admin/faults");

    // Unusable input that carries real tokens: the errors must not quote it.
    await step(async ([authResult, stale]) => {
      const rt = authResult.refresh_token;
      const jwt = authResult.auth_token;
      const user = window.make({ tokenStore: "memory" });
      const out = [];
      for (const [label, bad] of [
        ["refresh token as auth token", { auth_token: rt, refresh_token: rt }],
        ["broken JWT", { authToken: jwt.slice(0, -3) + "!!!", refreshToken: rt }],
        ["JWT without exp", { auth_token: jwt.split(".")[0] + ".e30." + jwt.split(".")[2] }],
        ["number refresh token", { auth_token: jwt, refresh_token: 12 }],
        ["huge refresh token", { auth_token: jwt, refresh_token: rt.repeat(200) }],
        ["bad expiration", { auth_token: jwt, refresh_token: rt, refresh_token_expiration: jwt }],
      ]) {
        out.push(await window.record(label, () => user.setAuthResult(bad)));
      }
      for (const [label, options] of [
        ["token as appId", { appId: jwt }],
        ["token as authOrigin", { authOrigin: "https://" + rt }],
        ["token as an option name", { [rt]: true }],
      ]) {
        out.push(await window.record(label, () => new window.psg.PassageUser(options)));
      }
      // A custom store whose own errors quote the token: the library's error must not pass them on.
      const leaky = {
        getAuthToken: () => stale,
        getRefreshToken: () => rt,
        setTokens(t) {
          window.note(t.authToken);
          window.note(t.refreshToken);
          throw new Error(`cannot store ${t.authToken} / ${t.refreshToken}`);
        },
        clearTokens: () => Promise.reject(new Error(`cannot clear ${rt}`)),
      };
      const leakyUser = window.make({ tokenStore: leaky });
      window.watch(leakyUser);
      out.push(await window.record("store that throws with the token", () => leakyUser.getAuthToken()));
      const rejecting = { ...leaky, getAuthToken: () => Promise.reject(new Error(`cannot read ${jwt}`)) };
      out.push(await window.record("store that rejects with the token", () => window.make({ tokenStore: rejecting }).getAuthToken()));
      return out;
    }, [await login(), stale]);

    // A refused refresh token (signs out), then a new sign-in, a failed revocation and a good one.
    await t.fault({ status: 401, count: 1 });
    await step(async () => [await window.record("login_required", () => window.user.refresh())]);
    const second = await demoLogin(auth, t.app, t.email);
    secrets.add(second.auth_token).add(second.refresh_token);
    await t.fault({ endpoint: "revoke", status: 503, count: 1 });
    await step(async (authResult) => {
      window.user.setAuthResult(authResult);
      const out = [await window.record("signOut unconfirmed", () => window.user.signOut())];
      out.push(await window.record("after signOut", () => window.user.getAuthToken()));
      return out;
    }, second);
    const third = await demoLogin(auth, t.app, t.email);
    secrets.add(third.auth_token).add(third.refresh_token);
    await step(async (authResult) => {
      window.user.setAuthResult(authResult);
      return [await window.record("signOut", () => window.user.signOut())];
    }, third);

    const seen = await page.evaluate(() => ({ caught: window.caught, details: window.details, secrets: [...window.secrets] }));
    for (const s of seen.secrets) secrets.add(s);

    // The session went through what it should have.
    assert.deepEqual(
      outcomes.filter((o) => o.label.startsWith("store that")).map((o) => o.code),
      ["storage", "storage"],
    );
    const codes = seen.caught.map((c) => c.code);
    for (const code of ["server", "rate_limited", "invalid_response", "network", "invalid_auth_result", "invalid_options", "storage", "login_required"]) {
      assert.ok(codes.includes(code), `no ${code} error was produced: ${JSON.stringify(outcomes)}`);
    }
    assert.ok(seen.caught.every((c) => c.isPassageError), "every error is a PassageError");
    assert.ok(secrets.size >= 8, `only ${secrets.size} distinct tokens seen`);
    assert.ok(seen.details.some((d) => d.event === "TOKEN_REFRESHED"));
    assert.ok(seen.details.some((d) => d.event === "SIGNED_OUT"));
    assert.ok(uncaught.some((e) => e.includes("a listener's bug")));

    // Event details carry only a reason and an expiry.
    for (const d of seen.details) {
      assert.ok(d.keys.every((k) => k === "reason" || k === "expiresAt"), `${d.event} detail has ${d.keys}`);
    }
    const haystacks = [
      ...seen.caught.map((c) => [`error ${c.label}`, c.text]),
      ...seen.details.map((d) => [`${d.event} detail`, d.json]),
      ...consoleTexts.map((text) => ["console", text]),
      ...uncaught.map((text) => ["uncaught error", text]),
    ];
    for (const secret of secrets) {
      for (const piece of pieces(secret)) {
        for (const [where, text] of haystacks) {
          // Never print the token itself.
          assert.ok(!text.includes(piece), `a token appears in the ${where}`);
        }
      }
    }
    // The browser's own console lines for failed requests name the request
    // URL as their location: the revocation's (docs/contract.md §1 puts the
    // refresh token in its query string) is the only one that may carry a
    // token, and only there, never in the text.
    const tokenUrls = consoleUrls.filter((url) => [...secrets].some((s) => url.includes(s)));
    assert.ok(tokenUrls.every((url) => new URL(url).pathname.endsWith("/tokens")), "a token in another request URL");
    await context.close();
  });
});
