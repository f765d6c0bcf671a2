// docs/contract.md §4's helpers in Chromium: `user.createFetch({origins})` and
// `user.axiosInterceptor(instance, {origins})` with the real axios package.
// The token must reach the named API origins and nothing else, a 401 from
// them is retried exactly once after a forced refresh, and bad input fails
// clearly. What arrives is checked on the server side: the auth server's
// protected demo API (`/demo/api/hello`, 401 without a token) and the API
// routes of the static server, which record every request's Authorization
// header. `*.evil.example` resolves to 127.0.0.1 in this browser, so
// look-alike hosts reach the recorder instead of the internet.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { installHelpers, launchBrowser, newApp, openPage, staleJwt, startAuthServer, startStatic, until } from "./harness.mjs";

const AXIOS = "/node_modules/axios/dist/esm/axios.min.js";

/** Requests to the static server's `/api/` routes, as received. */
let received = [];
const seen = new Map();

/**
 * The recorder: `/api/echo` answers 200, `/api/once401` answers 401 to the
 * first request of each `?k=` key and 200 after, `/api/always401` 401. CORS
 * allows any origin. Every request but preflights is recorded.
 */
function api(req, res) {
  const url = new URL(req.url, "http://x");
  if (!url.pathname.startsWith("/api/")) return false;
  const cors = {
    "access-control-allow-origin": req.headers.origin ?? "*",
    "access-control-allow-headers": "authorization, content-type, x-custom",
    "access-control-allow-methods": "GET, POST, PUT, DELETE",
    vary: "origin",
  };
  if (req.method === "OPTIONS") {
    res.writeHead(204, cors).end();
    return true;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const key = url.searchParams.get("k") ?? "";
    const entry = {
      key,
      method: req.method,
      path: url.pathname,
      host: req.headers.host,
      authorization: req.headers.authorization,
      custom: req.headers["x-custom"],
      contentType: req.headers["content-type"],
      body: Buffer.concat(chunks).toString(),
    };
    received.push(entry);
    let status = 200;
    if (url.pathname === "/api/always401") status = 401;
    if (url.pathname === "/api/once401") {
      status = seen.has(key) ? 200 : 401;
      seen.set(key, true);
    }
    res.writeHead(status, { ...cors, "content-type": "application/json" });
    res.end(JSON.stringify({ status, body: entry.body }));
  });
  return true;
}

/** What the recorder received for key `k`. */
const got = (k) => received.filter((r) => r.key === k);
/** Whether `authorization` is exactly the bearer header of `token` (no token in any message). */
const bearerOf = (authorization, token) => authorization === `Bearer ${token}`;

let browser, site, auth, sitePort, authPort;
before(async () => {
  [site, auth] = await Promise.all([startStatic(undefined, { handle: api }), startAuthServer()]);
  sitePort = new URL(site.url).port;
  authPort = new URL(auth.url).port;
  browser = await launchBrowser({ args: ["--host-resolver-rules=MAP *.evil.example 127.0.0.1"] });
});
after(async () => {
  await browser?.close();
  await site?.close();
  await auth?.stop();
});

/**
 * A new app with a signed-in user, and a page of the static server with the
 * package, axios (`window.axios`), `make()`, `attempt()` and
 * `window.hello` (the URL of this app's protected API).
 */
async function setup(settings = {}, options = {}) {
  const t = await newApp(auth, "helpers", settings, options);
  const context = await browser.newContext();
  const page = await openPage(context, site.url);
  await installHelpers(page, t.app, auth.url);
  await page.evaluate(
    async ([axiosPath, hello]) => {
      window.axios = (await import(axiosPath)).default;
      window.hello = hello;
      // A settled outcome, or "hang" when there is none within 15 s.
      window.within = (promise) =>
        Promise.race([window.attempt(promise), new Promise((ok) => setTimeout(() => ok({ ok: false, code: "hang" }), 15_000))]);
      // An axios outcome without the config (which holds the token).
      window.outcome = async (promise) => {
        try {
          const r = await promise;
          return { ok: true, status: r.status, data: r.data };
        } catch (e) {
          return {
            ok: false,
            status: e.response?.status,
            data: e.response?.data,
            code: e.code,
            name: e.name,
            message: e.message,
            isPassageError: e instanceof window.psg.PassageError,
            isAxiosError: window.axios.isAxiosError(e),
          };
        }
      };
      // A fetch outcome: status and JSON body, or the error.
      window.fetched = async (promise) => {
        try {
          const r = await promise;
          return { ok: true, status: r.status, data: await r.json() };
        } catch (e) {
          return { ok: false, code: e.code, name: e.name, message: e.message, isPassageError: e instanceof window.psg.PassageError };
        }
      };
    },
    [AXIOS, `${auth.url}/v1/apps/${t.app}/demo/api/hello`],
  );
  return { ...t, page, done: () => context.close() };
}

/** The look-alikes of the named origin `http://127.0.0.1:AUTH`, each with the key its recorded requests carry. */
function lookAlikes(app, tag) {
  return {
    // Same server, other origin: the auth server answers 401 without a token.
    localhost: `http://localhost:${authPort}/v1/apps/${app}/demo/api/hello`,
    // Same scheme and host, another port (the static server).
    otherPort: `http://127.0.0.1:${sitePort}/api/echo?k=${tag}-port`,
    // A host that starts like the named one.
    suffix: `http://127.0.0.1.evil.example:${sitePort}/api/echo?k=${tag}-suffix`,
    // The named origin as userinfo in front of another host.
    userinfo: `http://127.0.0.1:${authPort}@other.evil.example:${sitePort}/api/echo?k=${tag}-userinfo`,
  };
}

describe("createFetch", () => {
  test("the token goes to the named origin, and the API answers 200 with the user", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const apiFetch = user.createFetch({ origins: [new URL(window.hello).origin] });
      return window.fetched(apiFetch(window.hello));
    }, t.authResult);
    assert.equal(r.status, 200);
    assert.equal(r.data.user.email, t.email);
    const stats = await t.stats();
    assert.equal(stats.hello, 1);
    assert.equal(stats.refresh, 0);
    await t.done();
  });

  test("no token reaches look-alikes: localhost for 127.0.0.1, another port, a longer host, userinfo, https for http", async () => {
    const t = await setup();
    const urls = lookAlikes(t.app, "fetch");
    const r = await t.page.evaluate(
      async ([authResult, urls]) => {
        const user = window.make();
        user.setAuthResult(authResult);
        const apiFetch = user.createFetch({ origins: [new URL(window.hello).origin] });
        const out = {};
        for (const [name, url] of Object.entries(urls)) out[name] = await window.fetched(apiFetch(url));
        // http named, https asked (and the reverse, below): the requests
        // the wrapper hands to fetch are recorded here.
        const sent = [];
        const spy = user.createFetch({
          origins: [new URL(window.hello).origin],
          fetch: async (request) => {
            sent.push(request.headers.has("authorization"));
            return fetch(request);
          },
        });
        out.https = await window.within(spy(window.hello.replace("http:", "https:")));
        out.httpsSent = sent;
        const httpsNamed = user.createFetch({ origins: [new URL(window.hello).origin.replace("http:", "https:")] });
        out.httpForHttps = await window.fetched(httpsNamed(window.hello));
        return out;
      },
      [t.authResult, urls],
    );
    assert.equal(r.localhost.status, 401, "the auth server saw no token from localhost");
    assert.equal(r.localhost.data.code, "missing_auth_token");
    assert.equal(r.otherPort.status, 200);
    assert.equal(r.suffix.status, 200);
    // fetch refuses URLs with credentials: nothing is sent at all.
    assert.equal(r.userinfo.ok, false);
    assert.equal(r.userinfo.name, "TypeError");
    assert.equal(r.https.ok, false, "no TLS on the auth server");
    assert.deepEqual(r.https.ok ? [] : r.httpsSent, [false]);
    assert.equal(r.httpForHttps.status, 401);
    assert.equal(r.httpForHttps.data.code, "missing_auth_token");
    for (const k of ["fetch-port", "fetch-suffix"]) {
      assert.equal(got(k).length, 1, `${k}: the request arrived`);
      assert.equal(got(k)[0].authorization, undefined, `${k}: no Authorization header arrived`);
    }
    assert.match(got("fetch-suffix")[0].host, /^127\.0\.0\.1\.evil\.example:/);
    assert.equal(got("fetch-userinfo").length, 0);
    const stats = await t.stats();
    assert.equal(stats.hello, 2, "the localhost and the http-for-https requests");
    assert.equal(stats.refresh, 0, "a 401 from an origin that is not named is not retried");
    await t.done();
  });

  test("a 401 is retried once after a forced refresh", async () => {
    const t = await setup();
    await t.fault({ endpoint: "hello", mode: "status", status: 401, count: 1 });
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const apiFetch = user.createFetch({ origins: [new URL(window.hello).origin] });
      const res = await window.fetched(apiFetch(window.hello));
      return { res, changed: (await user.getAuthToken()) !== authResult.auth_token };
    }, t.authResult);
    assert.equal(r.res.status, 200);
    assert.equal(r.res.data.user.email, t.email);
    assert.equal(r.changed, true, "the retry used a new token");
    const stats = await t.stats();
    assert.equal(stats.refresh, 1);
    assert.equal(stats.hello, 2);
    await t.done();
  });

  test("a second 401 gives back the API's own 401 response, with no further retry", async () => {
    const t = await setup();
    await t.fault({ endpoint: "hello", mode: "status", status: 401, count: 5 });
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const apiFetch = user.createFetch({ origins: [new URL(window.hello).origin] });
      return window.within(apiFetch(window.hello).then(async (res) => ({ status: res.status, body: await res.json() })));
    }, t.authResult);
    assert.equal(r.ok, true, r.code);
    assert.equal(r.value.status, 401);
    assert.equal(r.value.body.code, "fault_injected", "the API's own answer");
    const stats = await t.stats();
    assert.equal(stats.refresh, 1);
    assert.equal(stats.hello, 2);
    await t.done();
  });

  test("concurrent requests on a stale token share one refresh; concurrent 401s share one forced refresh", async () => {
    const t = await setup();
    const stale = staleJwt(auth.url, t.app);
    const r = await t.page.evaluate(
      async ([authResult, stale]) => {
        const user = window.make();
        user.setAuthResult({ ...authResult, auth_token: stale });
        const origins = [new URL(window.hello).origin];
        const apiFetch = user.createFetch({ origins });
        const first = await Promise.all(Array.from({ length: 10 }, () => apiFetch(window.hello).then((r) => r.status)));
        return { first };
      },
      [t.authResult, stale],
    );
    assert.deepEqual(r.first, Array(10).fill(200));
    let stats = await t.stats();
    assert.equal(stats.refresh, 1);
    assert.equal(stats.hello, 10);

    // Five 401s delivered at the same moment (a barrier in the fetch the
    // wrapper uses), while the refresh is slowed down: one refresh serves all.
    await t.fault({ endpoint: "hello", mode: "status", status: 401, count: 5 });
    await t.fault({ endpoint: "refresh", mode: "delay", delay_ms: 300 });
    const second = await t.page.evaluate(async () => {
      const user = window.make();
      const n = 5;
      let settled = 0;
      let open;
      const gate = new Promise((ok) => (open = ok));
      const apiFetch = user.createFetch({
        origins: [new URL(window.hello).origin],
        fetch: async (request) => {
          const res = await fetch(request);
          if (++settled === n) open();
          await gate;
          return res;
        },
      });
      return Promise.all(Array.from({ length: n }, () => apiFetch(window.hello).then((r) => r.status)));
    });
    assert.deepEqual(second, Array(5).fill(200));
    stats = await t.stats();
    assert.equal(stats.refresh, 2, "one refresh for the stale token, one for the five 401s");
    assert.equal(stats.hello, 20);
    await t.done();
  });

  test("a POST with a JSON body is retried with the body and headers intact", async () => {
    const t = await setup();
    const payload = { order: 42, items: ["a", "é", "🙂"], note: "x".repeat(10_000) };
    const r = await t.page.evaluate(
      async ([authResult, payload]) => {
        const user = window.make();
        user.setAuthResult(authResult);
        const apiFetch = user.createFetch({ origins: [location.origin] });
        const res = await apiFetch("/api/once401?k=post", {
          method: "POST",
          headers: { "content-type": "application/json", "x-custom": "kept" },
          body: JSON.stringify(payload),
        });
        return { status: res.status, now: await user.getAuthToken() };
      },
      [t.authResult, payload],
    );
    assert.equal(r.status, 200);
    const [first, retry] = got("post");
    assert.equal(got("post").length, 2);
    for (const req of [first, retry]) {
      assert.equal(req.method, "POST");
      assert.deepEqual(JSON.parse(req.body), payload);
      assert.equal(req.contentType, "application/json");
      assert.equal(req.custom, "kept");
    }
    assert.ok(bearerOf(first.authorization, t.authResult.auth_token), "the first attempt carried the login's token");
    assert.ok(bearerOf(retry.authorization, r.now), "the retry carried the refreshed token");
    assert.ok(!bearerOf(retry.authorization, t.authResult.auth_token), "the retry's token is new");
    assert.equal((await t.stats()).refresh, 1);
    await t.done();
  });

  test("no init, a Request object, and relative URLs (token only when the page's origin is named)", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const pageNamed = user.createFetch({ origins: [location.origin] });
      const otherNamed = user.createFetch({ origins: [new URL(window.hello).origin] });
      return [
        (await pageNamed("/api/echo?k=rel-named")).status,
        (await otherNamed("/api/echo?k=rel-other")).status,
        (await otherNamed("../../../api/echo?k=rel-dots")).status,
        (await pageNamed(new Request("/api/echo?k=request", { headers: { "x-custom": "kept" } }))).status,
        (await pageNamed(new URL("/api/echo?k=url-object", location.href))).status,
      ];
    }, t.authResult);
    assert.deepEqual(r, [200, 200, 200, 200, 200]);
    assert.ok(bearerOf(got("rel-named")[0].authorization, t.authResult.auth_token), "a relative URL on the named page origin gets the token");
    assert.equal(got("rel-other")[0].authorization, undefined);
    assert.equal(got("rel-dots")[0].authorization, undefined);
    assert.ok(bearerOf(got("request")[0].authorization, t.authResult.auth_token), "a Request object gets the token");
    assert.equal(got("request")[0].custom, "kept");
    assert.ok(bearerOf(got("url-object")[0].authorization, t.authResult.auth_token), "a URL object gets the token");
    await t.done();
  });

  test("a malformed URL rejects at once with fetch's own TypeError and sends nothing", async () => {
    const t = await setup();
    const before = received.length;
    const r = await t.page.evaluate(async ([authResult, authPort]) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const apiFetch = user.createFetch({ origins: [new URL(window.hello).origin] });
      const out = [];
      for (const url of [`http://127.0.0.1:${authPort}.evil.example/api/echo`, "http://[::1/x", "http://exa mple.com/"]) {
        const r = await window.within(apiFetch(url));
        out.push({ ok: r.ok, code: r.code ?? null, hasMessage: !!r.message });
      }
      return out;
    }, [t.authResult, authPort]);
    for (const x of r) assert.deepEqual(x, { ok: false, code: null, hasMessage: true });
    assert.equal(received.length, before);
    const stats = await t.stats();
    assert.equal(stats.hello + stats.refresh, 0);
    await t.done();
  });

  test("signed out: requests to named origins reject with login_required and are not sent; others still go", async () => {
    const t = await setup({}, { login: false });
    const r = await t.page.evaluate(async () => {
      const user = window.make();
      const apiFetch = user.createFetch({ origins: [new URL(window.hello).origin] });
      const named = await window.within(apiFetch(window.hello));
      const other = await window.fetched(apiFetch("/api/echo?k=signed-out"));
      return { named: { code: named.code, isPassageError: named.isPassageError }, other: other.status };
    });
    assert.deepEqual(r, { named: { code: "login_required", isPassageError: true }, other: 200 });
    assert.equal(got("signed-out")[0].authorization, undefined);
    assert.equal((await t.stats()).hello, 0);
    await t.done();
  });

  test("bad options throw PassageError invalid_options", async () => {
    const t = await setup({}, { login: false });
    const r = await t.page.evaluate(() => {
      const user = window.make();
      const cases = [
        undefined,
        {},
        { origins: [] },
        { origins: "https://api.example.com" },
        { origins: [42] },
        { origins: ["/api"] },
        { origins: ["api.example.com"] },
        { origins: ["//api.example.com"] },
        { origins: ["ftp://api.example.com"] },
        { origins: ["javascript:alert(1)"] },
        { origins: ["https://api.example.com", null] },
      ];
      return cases.map((options) => {
        try {
          user.createFetch(options);
          return "accepted";
        } catch (e) {
          return e instanceof window.psg.PassageError ? e.code : String(e);
        }
      });
    });
    assert.deepEqual(r, Array(11).fill("invalid_options"));
    await t.done();
  });
});

describe("axiosInterceptor (the real axios package)", () => {
  test("the token goes to the named origin, by absolute URL or baseURL; ejecting stops it", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const origin = new URL(window.hello).origin;
      const api = window.axios.create();
      const eject = user.axiosInterceptor(api, { origins: [origin] });
      const absolute = await window.outcome(api.get(window.hello));
      const based = window.axios.create({ baseURL: window.hello.replace(/\/demo\/api\/hello$/, "") });
      user.axiosInterceptor(based, { origins: [origin] });
      const viaBase = await window.outcome(based.get("/demo/api/hello"));
      eject();
      const ejected = await window.outcome(api.get(window.hello));
      return { absolute, viaBase, ejected };
    }, t.authResult);
    assert.equal(r.absolute.status, 200);
    assert.equal(r.absolute.data.user.email, t.email);
    assert.equal(r.viaBase.status, 200);
    assert.equal(r.ejected.status, 401);
    assert.equal(r.ejected.data.code, "missing_auth_token");
    const stats = await t.stats();
    assert.equal(stats.hello, 3);
    assert.equal(stats.refresh, 0, "a 401 after ejecting is not retried");
    await t.done();
  });

  test("no token reaches look-alikes: localhost for 127.0.0.1, another port, a longer host, userinfo, http vs https", async () => {
    const t = await setup();
    const urls = lookAlikes(t.app, "axios");
    const r = await t.page.evaluate(
      async ([authResult, urls]) => {
        const user = window.make();
        user.setAuthResult(authResult);
        const api = window.axios.create();
        user.axiosInterceptor(api, { origins: [new URL(window.hello).origin] });
        const out = {};
        for (const [name, url] of Object.entries(urls)) out[name] = await window.outcome(api.get(url));
        const httpsNamed = window.axios.create();
        user.axiosInterceptor(httpsNamed, { origins: [new URL(window.hello).origin.replace("http:", "https:")] });
        out.httpForHttps = await window.outcome(httpsNamed.get(window.hello));
        // https asked, http named: the request fails (no TLS); what axios
        // was about to send is in the error's config.
        try {
          await api.get(window.hello.replace("http:", "https:"));
          out.https = "answered";
        } catch (e) {
          out.https = { status: e.response?.status ?? null, sentToken: !!e.config?.headers?.get?.("Authorization") };
        }
        return out;
      },
      [t.authResult, urls],
    );
    assert.equal(r.localhost.status, 401, "the auth server saw no token from localhost");
    assert.equal(r.localhost.data.code, "missing_auth_token");
    for (const name of ["otherPort", "suffix", "userinfo"]) assert.equal(r[name].status, 200, name);
    assert.equal(r.httpForHttps.status, 401);
    assert.equal(r.httpForHttps.data.code, "missing_auth_token");
    assert.deepEqual(r.https, { status: null, sentToken: false });
    for (const k of ["axios-port", "axios-suffix", "axios-userinfo"]) {
      assert.equal(got(k).length, 1, `${k}: the request arrived`);
      assert.ok(!/bearer/i.test(got(k)[0].authorization ?? ""), `${k}: no bearer token arrived`);
    }
    assert.match(got("axios-userinfo")[0].host, /^other\.evil\.example:/);
    const stats = await t.stats();
    assert.equal(stats.hello, 2);
    assert.equal(stats.refresh, 0);
    await t.done();
  });

  test("a 401 is retried once after a forced refresh", async () => {
    const t = await setup();
    await t.fault({ endpoint: "hello", mode: "status", status: 401, count: 1 });
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const api = window.axios.create();
      user.axiosInterceptor(api, { origins: [new URL(window.hello).origin] });
      return window.outcome(api.get(window.hello));
    }, t.authResult);
    assert.equal(r.status, 200);
    assert.equal(r.data.user.email, t.email);
    const stats = await t.stats();
    assert.equal(stats.refresh, 1);
    assert.equal(stats.hello, 2);
    await t.done();
  });

  test("a second 401 rejects with the API's own axios error, with no further retry", async () => {
    const t = await setup();
    await t.fault({ endpoint: "hello", mode: "status", status: 401, count: 5 });
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const api = window.axios.create();
      user.axiosInterceptor(api, { origins: [new URL(window.hello).origin] });
      const out = await window.within(window.outcome(api.get(window.hello)));
      return out.ok ? out.value : out;
    }, t.authResult);
    assert.equal(r.ok, false);
    assert.equal(r.isAxiosError, true);
    assert.equal(r.status, 401);
    assert.equal(r.data.code, "fault_injected", "the API's own answer");
    const stats = await t.stats();
    assert.equal(stats.refresh, 1);
    assert.equal(stats.hello, 2);
    await t.done();
  });

  test("concurrent requests on a stale token share one refresh; concurrent 401s share one forced refresh", async () => {
    const t = await setup();
    const stale = staleJwt(auth.url, t.app);
    const first = await t.page.evaluate(
      async ([authResult, stale]) => {
        const user = window.make();
        user.setAuthResult({ ...authResult, auth_token: stale });
        const api = window.axios.create();
        user.axiosInterceptor(api, { origins: [new URL(window.hello).origin] });
        return Promise.all(Array.from({ length: 10 }, () => api.get(window.hello).then((r) => r.status)));
      },
      [t.authResult, stale],
    );
    assert.deepEqual(first, Array(10).fill(200));
    let stats = await t.stats();
    assert.equal(stats.refresh, 1);
    assert.equal(stats.hello, 10);

    await t.fault({ endpoint: "hello", mode: "status", status: 401, count: 5 });
    await t.fault({ endpoint: "refresh", mode: "delay", delay_ms: 300 });
    const second = await t.page.evaluate(async () => {
      const user = window.make();
      const n = 5;
      let settled = 0;
      let open;
      const gate = new Promise((ok) => (open = ok));
      const xhr = window.axios.getAdapter("xhr");
      // A barrier in the adapter: the five 401s reach the interceptor together.
      const api = window.axios.create({
        adapter: async (config) => {
          let response, error;
          try {
            response = await xhr(config);
          } catch (e) {
            error = e;
          }
          if (++settled === n) open();
          await gate;
          if (error) throw error;
          return response;
        },
      });
      user.axiosInterceptor(api, { origins: [new URL(window.hello).origin] });
      return Promise.all(Array.from({ length: n }, () => api.get(window.hello).then((r) => r.status)));
    });
    assert.deepEqual(second, Array(5).fill(200));
    stats = await t.stats();
    assert.equal(stats.refresh, 2, "one refresh for the stale token, one for the five 401s");
    assert.equal(stats.hello, 20);
    await t.done();
  });

  test("a POST with a JSON body is retried with the body intact", async () => {
    const t = await setup();
    const payload = { order: 7, items: ["a", "é"] };
    const r = await t.page.evaluate(
      async ([authResult, payload]) => {
        const user = window.make();
        user.setAuthResult(authResult);
        const api = window.axios.create();
        user.axiosInterceptor(api, { origins: [location.origin] });
        const res = await window.outcome(api.post("/api/once401?k=axios-post", payload, { headers: { "x-custom": "kept" } }));
        return { status: res.status, now: await user.getAuthToken() };
      },
      [t.authResult, payload],
    );
    assert.equal(r.status, 200);
    assert.equal(got("axios-post").length, 2);
    const [first, retry] = got("axios-post");
    for (const req of [first, retry]) {
      assert.equal(req.method, "POST");
      assert.deepEqual(JSON.parse(req.body), payload);
      assert.match(req.contentType, /^application\/json/);
      assert.equal(req.custom, "kept");
    }
    assert.ok(bearerOf(first.authorization, t.authResult.auth_token), "the first attempt carried the login's token");
    assert.ok(bearerOf(retry.authorization, r.now), "the retry carried the refreshed token");
    assert.ok(!bearerOf(retry.authorization, t.authResult.auth_token), "the retry's token is new");
    await t.done();
  });

  test("a config without headers, and relative URLs (token only when the page's origin is named)", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async (authResult) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const pageNamed = window.axios.create();
      user.axiosInterceptor(pageNamed, { origins: [location.origin] });
      const otherNamed = window.axios.create();
      user.axiosInterceptor(otherNamed, { origins: [new URL(window.hello).origin] });
      return [
        (await pageNamed.request({ url: "/api/echo?k=ax-bare" })).status,
        (await pageNamed.request({ url: "/api/echo?k=ax-undef", headers: undefined })).status,
        (await pageNamed.get("/api/echo", { params: { k: "ax-params" } })).status,
        (await otherNamed.get("/api/echo?k=ax-rel-other")).status,
        (await otherNamed.get("../../../api/echo?k=ax-rel-dots")).status,
      ];
    }, t.authResult);
    assert.deepEqual(r, [200, 200, 200, 200, 200]);
    for (const k of ["ax-bare", "ax-undef", "ax-params"]) {
      assert.ok(bearerOf(got(k)[0].authorization, t.authResult.auth_token), `${k}: the page origin is named, so the token is sent`);
    }
    assert.equal(got("ax-rel-other")[0].authorization, undefined);
    assert.equal(got("ax-rel-dots")[0].authorization, undefined);
    await t.done();
  });

  test("a malformed URL rejects with a clear error, without a token and without hanging", async () => {
    const t = await setup();
    const before = received.length;
    const r = await t.page.evaluate(async ([authResult, authPort]) => {
      const user = window.make();
      user.setAuthResult(authResult);
      const api = window.axios.create();
      user.axiosInterceptor(api, { origins: [new URL(window.hello).origin] });
      const out = [];
      for (const url of [`http://127.0.0.1:${authPort}.evil.example/api/echo`, "http://[::1/x", "http://exa mple.com/"]) {
        const settled = await window.within(
          api.get(url).catch((e) => {
            throw Object.assign(new Error(e.message), { code: e.code, sentToken: !!e.config?.headers?.get?.("Authorization") });
          }),
        );
        out.push(settled);
      }
      return out.map((x) => ({ ok: x.ok, hang: x.code === "hang", hasMessage: !!x.message }));
    }, [t.authResult, authPort]);
    for (const x of r) assert.deepEqual(x, { ok: false, hang: false, hasMessage: true });
    assert.equal(received.length, before);
    const stats = await t.stats();
    assert.equal(stats.hello + stats.refresh, 0);
    await t.done();
  });

  test("signed out: requests to named origins reject with login_required and are not sent; others still go", async () => {
    const t = await setup({}, { login: false });
    const r = await t.page.evaluate(async () => {
      const user = window.make();
      const api = window.axios.create();
      user.axiosInterceptor(api, { origins: [new URL(window.hello).origin] });
      const named = await window.outcome(api.get(window.hello));
      const other = await window.outcome(api.get("/api/echo?k=ax-signed-out"));
      return { named: { code: named.code, isPassageError: named.isPassageError }, other: other.status };
    });
    assert.deepEqual(r, { named: { code: "login_required", isPassageError: true }, other: 200 });
    assert.equal(got("ax-signed-out")[0].authorization, undefined);
    assert.equal((await t.stats()).hello, 0);
    await t.done();
  });

  test("bad options or a non-axios instance throw PassageError invalid_options", async () => {
    const t = await setup({}, { login: false });
    const r = await t.page.evaluate(() => {
      const user = window.make();
      const api = window.axios.create();
      const origins = ["https://api.example.com"];
      const cases = [
        [api, undefined],
        [api, {}],
        [api, { origins: "https://api.example.com" }],
        [api, { origins: [] }],
        [api, { origins: ["/api"] }],
        [api, { origins: ["api.example.com"] }],
        [api, { origins: ["ftp://api.example.com"] }],
        [undefined, { origins }],
        [{}, { origins }],
        [window.axios.get, { origins }],
      ];
      const out = cases.map(([instance, options]) => {
        try {
          user.axiosInterceptor(instance, options);
          return "accepted";
        } catch (e) {
          return e instanceof window.psg.PassageError ? e.code : String(e);
        }
      });
      // None of the refused calls left an interceptor behind.
      out.push(api.interceptors.request.handlers.filter(Boolean).length);
      return out;
    });
    assert.deepEqual(r, [...Array(10).fill("invalid_options"), 0]);
    await t.done();
  });
});

/**
 * A page whose session needs a refresh that the test holds (its answer waits
 * for `release()`), so that nothing but a cancellation can end a wait for a
 * token. `window.api` is the recorder's origin, named as the API.
 */
async function heldRefresh() {
  const t = await setup();
  let release;
  const released = new Promise((ok) => (release = ok));
  let sent = false;
  await t.page.route("**/tokens", async (route) => {
    if (route.request().method() !== "POST") return route.continue();
    sent = true;
    await released;
    await route.continue();
  });
  await t.page.evaluate(
    ([authResult, stale, api]) => {
      window.user = window.make();
      window.user.setAuthResult({ ...authResult, auth_token: stale });
      window.api = api;
      // Another caller, which shares the refresh and asks for no cancel.
      window.other = window.attempt(window.user.getAuthToken());
    },
    [t.authResult, staleJwt(auth.url, t.app), `http://127.0.0.1:${sitePort}`],
  );
  await until(() => sent, 10_000, "the refresh to be sent");
  return { ...t, release };
}

/** The shared refresh goes on once released: the other caller gets its token, and one refresh was made. */
async function sharedRefreshGoesOn(t) {
  t.release();
  const other = await t.page.evaluate(() => window.other);
  assert.equal(other.ok, true, other.code);
  assert.equal((await t.stats()).refresh, 1);
}

describe("cancellation while waiting for a token", () => {
  test("getAuthToken({ signal }) rejects with the signal's reason once it aborts", async () => {
    const t = await heldRefresh();
    const r = await t.page.evaluate(async () => {
      const outcome = async (promise) => {
        try {
          return { value: await promise };
        } catch (e) {
          return { name: e.name, code: e.code, isDomException: e instanceof DOMException, reason: e === window.reason };
        }
      };
      const controller = new AbortController();
      const waiting = outcome(window.user.getAuthToken({ signal: controller.signal }));
      controller.abort();
      const aborted = await waiting;
      const already = await outcome(window.user.getAuthToken({ signal: AbortSignal.abort() }));
      const custom = new AbortController();
      window.reason = new Error("the user went elsewhere");
      const customWait = outcome(window.user.getAuthToken({ signal: custom.signal }));
      custom.abort(window.reason);
      const bad = [];
      for (const options of [5, { signal: {} }, { signal: "abort" }]) bad.push((await outcome(window.user.getAuthToken(options))).code);
      return { aborted, already, custom: await customWait, bad };
    });
    assert.deepEqual(r.aborted, { name: "AbortError", code: 20, isDomException: true, reason: false });
    assert.equal(r.already.name, "AbortError");
    assert.equal(r.custom.reason, true, "the app's own reason is passed on");
    assert.deepEqual(r.bad, ["invalid_options", "invalid_options", "invalid_options"]);
    await sharedRefreshGoesOn(t);
    await t.done();
  });

  test("createFetch: an aborted request rejects with fetch's AbortError and is never sent", async () => {
    const t = await heldRefresh();
    const r = await t.page.evaluate(async () => {
      const apiFetch = window.user.createFetch({ origins: [window.api] });
      const controller = new AbortController();
      const request = window.fetched(apiFetch(`${window.api}/api/echo?k=abort-fetch`, { signal: controller.signal }));
      controller.abort();
      const viaInit = await request;
      const viaRequest = await window.fetched(apiFetch(new Request(`${window.api}/api/echo?k=abort-fetch`, { signal: AbortSignal.abort() })));
      return { viaInit, viaRequest };
    });
    assert.equal(r.viaInit.name, "AbortError");
    assert.equal(r.viaRequest.name, "AbortError");
    await sharedRefreshGoesOn(t);
    assert.equal(got("abort-fetch").length, 0, "a cancelled request was sent");
    await t.done();
  });

  test("axios: a signal or a CancelToken cancels with axios's CanceledError, a timeout with ECONNABORTED; nothing is sent", async () => {
    const t = await heldRefresh();
    const r = await t.page.evaluate(async () => {
      const api = window.axios.create();
      window.user.axiosInterceptor(api, { origins: [window.api] });
      const url = `${window.api}/api/echo?k=abort-axios`;
      const cancelled = async (promise) => {
        try {
          await promise;
          return { sent: true };
        } catch (e) {
          return { isCancel: window.axios.isCancel(e), isAxiosError: window.axios.isAxiosError(e), code: e.code };
        }
      };
      const controller = new AbortController();
      const bySignal = cancelled(api.get(url, { signal: controller.signal }));
      const source = window.axios.CancelToken.source();
      const byToken = cancelled(api.get(url, { cancelToken: source.token }));
      controller.abort();
      source.cancel("gone");
      const byTimeout = cancelled(api.get(url, { timeout: 200 }));
      return { bySignal: await bySignal, byToken: await byToken, byTimeout: await byTimeout };
    });
    assert.deepEqual(r.bySignal, { isCancel: true, isAxiosError: true, code: "ERR_CANCELED" });
    assert.deepEqual(r.byToken, { isCancel: true, isAxiosError: true, code: "ERR_CANCELED" });
    assert.deepEqual(r.byTimeout, { isCancel: false, isAxiosError: true, code: "ECONNABORTED" });
    await sharedRefreshGoesOn(t);
    assert.equal(got("abort-axios").length, 0, "a cancelled request was sent");
    await t.done();
  });
});
