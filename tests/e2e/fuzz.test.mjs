// Randomised input in the browser, for the parsers that read JavaScript
// values (the entry's, with the wasm's checks behind them; the core's own
// parsers are fuzzed on the host): options, AuthResults in both spellings,
// and refresh replies. Seeded, so a failure
// reproduces: FUZZ_SEED=<n> picks another sequence, FUZZ_CASES=<n> runs more.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fakeJwt, installHelpers, newApp, nowS, openPage, startAll, stopAll } from "./harness.mjs";

let browser, site, auth;
before(async () => ({ browser, site, auth } = await startAll()));
after(() => stopAll({ browser, site, auth }));

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const CASES = Number(process.env.FUZZ_CASES ?? 1500);
const CODES = ["login_required", "network", "server", "rate_limited", "invalid_response", "invalid_auth_result", "storage", "invalid_options"];

/** A small seeded PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Random JSON-able values biased towards the shapes the parsers look for:
 * the right keys with wrong types, near-miss JWTs, huge and odd numbers.
 */
function generator(seed, keys) {
  const r = rng(seed);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const jwtLike = () =>
    pick([
      () => fakeJwt({ exp: nowS() + 300, iat: nowS(), sub: "u" }),
      () => fakeJwt({ exp: pick([-1, 0, 1e308, "soon", null, nowS() - 10]) }),
      () => fakeJwt(pick([[], null, "x", 5])),
      () => "a.b.c",
      () => "x".repeat(Math.floor(r() * 20000)),
      () => pick(["", ".", "..", "e30.e30.e30", "\u0000.\ud800.x"]),
    ])();
  const scalar = () =>
    pick([
      () => undefined,
      () => null,
      () => r() < 0.5,
      () => pick([0, -1, 1.5, 1e21, -1e21, NaN, Infinity, 4102444800, nowS() - 5]),
      () => pick(["", "localStorage", "memory", "http://127.0.0.1:1", "https://x", "ftp://x", "not a url", "\u00e9\ud83d\ude00"]),
      jwtLike,
    ])();
  const value = (depth = 0) => {
    if (depth > 2 || r() < 0.6) return scalar();
    if (r() < 0.3) return Array.from({ length: Math.floor(r() * 4) }, () => value(depth + 1));
    const o = {};
    for (let i = Math.floor(r() * 5); i > 0; i--) o[r() < 0.8 ? pick(keys) : `k${Math.floor(r() * 9)}`] = value(depth + 1);
    return o;
  };
  return value;
}

describe("randomised input in the browser", () => {
  test("options and AuthResults: a PassageError with a documented code or success, never anything else, and the page keeps working", async () => {
    const context = await browser.newContext();
    const page = await openPage(context, site.url);
    const optionKeys = ["appId", "authOrigin", "tokenStore", "leeway", "requestTimeoutInSeconds", "authTokenCookie"];
    const resultKeys = ["auth_token", "authToken", "refresh_token", "refreshToken", "refresh_token_expiration", "refreshTokenExpiration", "redirect_url", "redirectUrl"];
    const options = generator(SEED, optionKeys);
    const results = generator(SEED + 1, resultKeys);
    const inputs = Array.from({ length: CASES }, () => [options(), results()]);
    const outcome = await page.evaluate(
      ([inputs, codes]) => {
        const seen = { ok: 0, codes: {}, other: [] };
        const note = (e) => {
          if (e instanceof window.psg.PassageError && codes.includes(e.code)) seen.codes[e.code] = (seen.codes[e.code] ?? 0) + 1;
          else seen.other.push(String(e).slice(0, 200));
        };
        for (const [opts, result] of inputs) {
          let user;
          try {
            // Only ever the memory store: random options must not leave
            // sessions in this page's localStorage for the next case.
            user = new window.psg.PassageUser(opts && typeof opts === "object" && !Array.isArray(opts) ? { ...opts, tokenStore: "memory" } : opts);
          } catch (e) {
            note(e);
            user = new window.psg.PassageUser({ appId: "app1", tokenStore: "memory" });
          }
          try {
            user.setAuthResult(result);
            seen.ok++;
          } catch (e) {
            note(e);
          }
        }
        return seen;
      },
      [inputs, CODES],
    );
    assert.deepEqual(outcome.other, [], "only PassageErrors with documented codes");
    assert.ok(outcome.codes.invalid_options > 0 && outcome.codes.invalid_auth_result > 0 && outcome.ok > 0, JSON.stringify(outcome));
    // The module is intact: a normal session still works.
    const token = fakeJwt({ exp: nowS() + 300, iat: nowS(), sub: "u" });
    const works = await page.evaluate(async (token) => {
      const user = new window.psg.PassageUser({ appId: "app1", tokenStore: "memory" });
      user.setAuthResult({ auth_token: token });
      return (await user.getAuthToken()) === token;
    }, token);
    assert.equal(works, true);
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  test("refresh replies: random bodies are invalid_response or a token, the old session kept, never a hang", async () => {
    const t = await newApp(auth, "fuzz");
    const context = await browser.newContext();
    const page = await openPage(context, site.url);
    await installHelpers(page, t.app, auth.url);
    const keys = ["auth_result", "auth_token", "refresh_token", "refresh_token_expiration", "redirect_url"];
    const value = generator(SEED + 2, keys);
    const bodies = Array.from({ length: 40 }, () => {
      const inner = value();
      return JSON.stringify(Math.random() < 0.8 ? { auth_result: inner } : inner) ?? "null";
    });
    for (const body of bodies) {
      await auth.admin("DELETE", "/admin/faults");
      await t.fault({ mode: "malformed", count: 1, body });
      const r = await page.evaluate(
        async ([authResult, stale]) => {
          localStorage.clear();
          const user = window.make({ requestTimeoutInSeconds: 2 });
          user.setAuthResult({ ...authResult, auth_token: stale });
          const result = await window.attempt(user.getAuthToken());
          return { result, rt: localStorage.getItem("psg_refresh_token") };
        },
        [t.authResult, fakeJwt({ sub: "u", iat: nowS() - 600, exp: nowS() - 300, aud: [auth.url, t.app] })],
      );
      if (r.result.ok) {
        // A body that happens to be a valid reply: it must carry a JWT.
        assert.equal(typeof r.result.value, "string");
      } else {
        assert.equal(r.result.code, "invalid_response", `${body.slice(0, 120)} gave ${r.result.code}`);
        assert.ok(r.rt === t.authResult.refresh_token, "the old refresh token is kept");
      }
    }
    assert.deepEqual(page.errors, []);
    await context.close();
  });
});
