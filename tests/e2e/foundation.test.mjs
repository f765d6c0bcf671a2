// The package loaded from pkg/ by a plain module page in Chromium, with no
// bundler: construction, setAuthResult, authGuard, getAuthToken without a
// network, and refusal of bad input.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fakeJwt, launchBrowser, nowS, openPage, startStatic } from "./harness.mjs";

let browser, site;
before(async () => {
  site = await startStatic();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await site?.close();
});

/** A fresh context (its own localStorage) with one page that loaded the package. */
async function freshPage() {
  const context = await browser.newContext();
  const page = await openPage(context, site.url);
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  page.requests = requests;
  return page;
}

const fresh = () => fakeJwt({ sub: "u1", iat: nowS(), exp: nowS() + 300, aud: ["http://localhost", "app1"] });
const expired = () => fakeJwt({ sub: "u1", iat: nowS() - 600, exp: nowS() - 300, aud: ["http://localhost", "app1"] });

/** Runs `fn(psg, arg)` in the page and returns {ok, value} or {code, name, isError}. */
async function run(page, fn, arg) {
  return page.evaluate(
    async ([src, arg]) => {
      const fn = new Function("return " + src)();
      try {
        return { ok: true, value: await fn(window.psg, arg) };
      } catch (e) {
        return {
          ok: false,
          code: e.code,
          name: e.name,
          message: e.message,
          isPassageError: e instanceof window.psg.PassageError,
          isError: e instanceof Error,
        };
      }
    },
    [fn.toString(), arg],
  );
}

describe("package entry", () => {
  test("loads as a module without a bundler and exports the API", async () => {
    const page = await freshPage();
    const shape = await page.evaluate(() => ({
      user: typeof window.psg.PassageUser,
      error: typeof window.psg.PassageError,
      subclass: new window.psg.PassageError("network", "x") instanceof Error,
    }));
    assert.deepEqual(shape, { user: "function", error: "function", subclass: true });
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
});

describe("setAuthResult and getAuthToken", () => {
  test("a fresh token from either spelling is returned with no network and no refresh", async () => {
    const page = await freshPage();
    const token = fresh();
    for (const spelling of ["snake", "camel"]) {
      const r = await run(
        page,
        async (psg, [token, spelling]) => {
          const user = new psg.PassageUser({ appId: "app1", authOrigin: "http://127.0.0.1:9" });
          user.setAuthResult(
            spelling === "snake"
              ? { auth_token: token, redirect_url: "/", refresh_token: "rt-1", refresh_token_expiration: 4102444800 }
              : { authToken: token, redirectUrl: "/", refreshToken: "rt-1", refreshTokenExpiration: 4102444800 },
          );
          const got = [await user.getAuthToken(), await user.getAuthToken()];
          return { got, stored: { ...localStorage }, guard: await user.authGuard() };
        },
        [token, spelling],
      );
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.value.got, [token, token]);
      assert.equal(r.value.guard, true);
      assert.equal(r.value.stored.psg_auth_token, token);
      assert.equal(r.value.stored.psg_refresh_token, "rt-1");
      assert.equal(r.value.stored.psg_refresh_token_expiration, "4102444800");
    }
    assert.deepEqual(page.requests, [], "no request may leave the page");
    await page.context().close();
  });

  test("no session rejects with a PassageError login_required", async () => {
    const page = await freshPage();
    const r = await run(page, (psg) => new psg.PassageUser({ appId: "app1" }).getAuthToken());
    assert.equal(r.ok, false);
    assert.equal(r.code, "login_required");
    assert.equal(r.name, "PassageError");
    assert.ok(r.isPassageError && r.isError);
    const guard = await run(page, (psg) => new psg.PassageUser({ appId: "app1" }).authGuard());
    assert.deepEqual(guard, { ok: true, value: false });
    await page.context().close();
  });

  test("an expired token without a refresh token is login_required, and authGuard says false", async () => {
    const page = await freshPage();
    const r = await run(
      page,
      async (psg, token) => {
        const user = new psg.PassageUser({ appId: "app1" });
        user.setAuthResult({ auth_token: token });
        const guard = await user.authGuard();
        try {
          await user.getAuthToken();
          return { guard, resolved: true };
        } catch (e) {
          return { guard, code: e.code, stored: localStorage.getItem("psg_auth_token") };
        }
      },
      expired(),
    );
    assert.deepEqual(r.value, { guard: false, code: "login_required", stored: null });
    await page.context().close();
  });

  test("bad AuthResults are refused with invalid_auth_result and the stored session stays", async () => {
    const page = await freshPage();
    const token = fresh();
    const bad = [
      null,
      "a string",
      42,
      {},
      { auth_token: 42 },
      { auth_token: "not-a-jwt" },
      { auth_token: "a.b.c" },
      { auth_token: fakeJwt({ sub: "x" }) },
      { auth_token: fakeJwt({ exp: "soon" }) },
      { auth_token: token, refresh_token: 7 },
      { auth_token: token, refresh_token_expiration: "tomorrow" },
      { auth_token: token, authToken: fresh().replace(/.$/, "x") },
    ];
    const r = await run(
      page,
      async (psg, [token, bad]) => {
        const user = new psg.PassageUser({ appId: "app1" });
        user.setAuthResult({ auth_token: token, refresh_token: "rt-keep" });
        const before = { ...localStorage };
        const codes = bad.map((b) => {
          try {
            user.setAuthResult(b);
            return "accepted";
          } catch (e) {
            return e instanceof psg.PassageError ? e.code : "not a PassageError: " + e;
          }
        });
        return { codes, same: JSON.stringify(before) === JSON.stringify({ ...localStorage }), token: await user.getAuthToken() };
      },
      [token, bad],
    );
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value.codes, bad.map(() => "invalid_auth_result"));
    assert.equal(r.value.same, true);
    assert.equal(r.value.token, token);
    await page.context().close();
  });

  test("an AuthResult whose JWT has expired is accepted", async () => {
    const page = await freshPage();
    const r = await run(
      page,
      (psg, token) => {
        const user = new psg.PassageUser({ appId: "app1" });
        user.setAuthResult({ authToken: token, refreshToken: "rt" });
        return localStorage.getItem("psg_auth_token") === token;
      },
      expired(),
    );
    assert.deepEqual(r, { ok: true, value: true });
    await page.context().close();
  });
});

describe("options", () => {
  test("unknown or wrong-typed options throw invalid_options", async () => {
    const page = await freshPage();
    const cases = [
      "not an object",
      { appid: "x" },
      { appId: 5 },
      { appId: "" },
      { authOrigin: "ftp://x" },
      { authOrigin: "https://x/path" },
      { tokenStore: "sessionStorage" },
      { tokenStore: { getAuthToken: "a method, but not a function" } },
      { tokenStore: 3 },
      { leeway: "10" },
      { leeway: -1 },
      { requestTimeoutInSeconds: 0 },
      { authTokenCookie: "no" },
      // The old name, read as the bound on the whole call, which it never was.
      { timeoutInSeconds: 10 },
    ];
    const r = await run(
      page,
      (psg, cases) =>
        cases.map((c) => {
          try {
            new psg.PassageUser(c);
            return "accepted";
          } catch (e) {
            return e instanceof psg.PassageError ? e.code : "other: " + e;
          }
        }),
      cases,
    );
    assert.deepEqual(r.value, cases.map(() => "invalid_options"));
    const renamed = await run(page, (psg) => {
      try {
        new psg.PassageUser({ timeoutInSeconds: 10 });
      } catch (e) {
        return e.message;
      }
    });
    assert.match(renamed.value, /now requestTimeoutInSeconds: it bounds each request/);
    const ok = await run(page, (psg) => {
      new psg.PassageUser();
      new psg.PassageUser({ appId: "a", authOrigin: "http://127.0.0.1:8787/", leeway: 0, requestTimeoutInSeconds: 2 });
      return true;
    });
    assert.deepEqual(ok, { ok: true, value: true });
    await page.context().close();
  });
});

describe("storage", () => {
  test("tokens written by passage-js are picked up by a new PassageUser", async () => {
    const page = await freshPage();
    const token = fresh();
    const r = await run(
      page,
      async (psg, token) => {
        localStorage.setItem("psg_auth_token", token);
        localStorage.setItem("psg_refresh_token", "rt-from-passage-js");
        const user = new psg.PassageUser();
        return [await user.authGuard(), await user.getAuthToken()];
      },
      token,
    );
    assert.deepEqual(r.value, [true, token]);
    assert.deepEqual(page.requests, []);
    await page.context().close();
  });

  test("bad stored values never throw anything but documented errors", async () => {
    const page = await freshPage();
    const values = ["", "garbage", "a.b.c", "...", "x".repeat(100_000), fakeJwt({ exp: 1e400 }), fakeJwt([1, 2]), "\u0000\ud800"];
    const r = await run(
      page,
      async (psg, values) => {
        const out = [];
        for (const v of values) {
          localStorage.clear();
          localStorage.setItem("psg_auth_token", v);
          localStorage.setItem("psg_refresh_token_expiration", v);
          const user = new psg.PassageUser({ appId: "app1" });
          try {
            await user.getAuthToken();
            out.push("resolved");
          } catch (e) {
            out.push(e.code);
          }
          out.push(await user.authGuard());
        }
        return out;
      },
      values,
    );
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value, values.flatMap(() => ["login_required", false]));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("the memory store leaves localStorage alone", async () => {
    const page = await freshPage();
    const token = fresh();
    const r = await run(
      page,
      async (psg, token) => {
        const user = new psg.PassageUser({ appId: "app1", tokenStore: "memory" });
        user.setAuthResult({ auth_token: token, refresh_token: "rt" });
        return { token: await user.getAuthToken(), keys: Object.keys(localStorage), cookie: document.cookie };
      },
      token,
    );
    assert.deepEqual(r.value, { token, keys: [], cookie: "" });
    await page.context().close();
  });

  test("the default store mirrors the auth token into a cookie, unless told not to", async () => {
    const page = await freshPage();
    const token = fresh();
    const r = await run(
      page,
      async (psg, token) => {
        new psg.PassageUser({ appId: "app1" }).setAuthResult({ auth_token: token });
        const withCookie = document.cookie;
        document.cookie = "psg_auth_token=; Max-Age=0; Path=/";
        new psg.PassageUser({ appId: "app1", authTokenCookie: false }).setAuthResult({ auth_token: token });
        return [withCookie, document.cookie];
      },
      token,
    );
    assert.deepEqual(r.value, [`psg_auth_token=${token}`, ""]);
    await page.context().close();
  });

  test("a custom store, sync or async, holds the session; one that throws gives storage", async () => {
    const page = await freshPage();
    const token = fresh();
    const r = await run(
      page,
      async (psg, token) => {
        const make = (async) => {
          const data = {};
          const wrap = (v) => (async ? Promise.resolve(v) : v);
          return {
            data,
            getAuthToken: () => wrap(data.authToken),
            getRefreshToken: () => wrap(data.refreshToken),
            setTokens: (t) => wrap(void Object.assign(data, t)),
            clearTokens: () => wrap(void Object.keys(data).forEach((k) => delete data[k])),
          };
        };
        const out = {};
        for (const async of [false, true]) {
          const store = make(async);
          const user = new psg.PassageUser({ appId: "app1", tokenStore: store });
          user.setAuthResult({ auth_token: token, refresh_token: "rt", refresh_token_expiration: 4102444800 });
          out[async ? "async" : "sync"] = [await user.getAuthToken(), await user.authGuard(), { ...store.data }];
          // A second client over the same store finds the session there.
          out[async ? "asyncReload" : "syncReload"] = await new psg.PassageUser({ appId: "app1", tokenStore: store }).getAuthToken();
        }
        const throwing = {
          getAuthToken() {
            throw new Error("boom");
          },
          getRefreshToken: () => null,
          setTokens() {},
          clearTokens() {},
        };
        try {
          await new psg.PassageUser({ appId: "app1", tokenStore: throwing }).getAuthToken();
          out.throwing = "resolved";
        } catch (e) {
          out.throwing = e.code;
        }
        const never = { ...throwing, getAuthToken: () => new Promise(() => {}) };
        try {
          await new psg.PassageUser({ appId: "app1", tokenStore: never, requestTimeoutInSeconds: 0.2 }).getAuthToken();
          out.never = "resolved";
        } catch (e) {
          out.never = e.code;
        }
        out.localStorage = Object.keys(localStorage);
        return out;
      },
      token,
    );
    assert.ok(r.ok, JSON.stringify(r));
    const data = { authToken: token, redirectUrl: "/", refreshToken: "rt", refreshTokenExpiration: 4102444800 };
    assert.deepEqual(r.value.sync, [token, true, data]);
    assert.deepEqual(r.value.async, [token, true, data]);
    assert.equal(r.value.syncReload, token);
    assert.equal(r.value.asyncReload, token);
    assert.equal(r.value.throwing, "storage");
    assert.equal(r.value.never, "storage");
    assert.deepEqual(r.value.localStorage, []);
    await page.context().close();
  });
});
