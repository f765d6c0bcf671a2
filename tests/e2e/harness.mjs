// Shared pieces of the browser tests: a static server on 127.0.0.1, the
// local auth server, Chromium, and unsigned JWTs for tests that need no
// server.
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

export const ROOT = resolve(import.meta.dirname, "../..");

export const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".css": "text/css",
};

/**
 * Serves the repository root read-only on 127.0.0.1 (an ephemeral port).
 * `handle(req, res)`, when given, sees each request first and returns true
 * when it has answered it (e.g. a test's API routes).
 */
export async function startStatic(root = ROOT, { handle } = {}) {
  const server = createServer((req, res) => {
    if (handle?.(req, res)) return;
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = join(root, path.endsWith("/") ? path + "index.html" : path);
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (!statSync(file).isFile()) throw new Error("not a file");
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise((ok) => server.close(ok)) };
}

/**
 * Starts the local auth server on a free port with a fresh data dir; `bin`
 * picks another build (the benchmark runs the release one).
 */
export async function startAuthServer(
  args = [],
  dataDir = mkdtempSync(join(tmpdir(), "psg-auth-")),
  { bin = join(ROOT, "target/debug/passage-auth-server") } = {},
) {
  const child = spawn(bin, ["--addr", "127.0.0.1:0", "--data", dataDir, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr = [];
  child.stderr.on("data", (d) => stderr.push(d));
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("auth server did not start: " + Buffer.concat(stderr))), 30_000);
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on("error", fail);
    child.on("exit", (code) => fail(new Error(`auth server exited ${code}: ${Buffer.concat(stderr)}`)));
  });
  const admin = async (method, path, body) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: "Bearer local-admin-key", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  return {
    url,
    dataDir,
    admin,
    stop: () =>
      new Promise((ok) => {
        if (child.exitCode !== null) return ok();
        child.on("exit", ok);
        child.kill("SIGTERM");
      }),
  };
}

/** Headless Debian Chromium, kept off the network beyond 127.0.0.1; `args` are extra command-line flags. */
export async function launchBrowser({ args = [] } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...args,
    ],
  });
}

/** Opens a page of the static server that has imported the package. */
export async function openPage(context, staticUrl, path = "/tests/e2e/pages/blank.html") {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(new Error(m.text()));
  });
  await page.goto(staticUrl + path);
  await page.waitForFunction(() => window.psg !== undefined);
  page.errors = errors;
  return page;
}

const b64url = (s) => Buffer.from(s).toString("base64url");

/** An unsigned JWT with these claims (for tests that need no server). */
export function fakeJwt(claims) {
  return `${b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }))}.${b64url(JSON.stringify(claims))}.c2ln`;
}

/** Unix seconds now. */
export const nowS = () => Math.floor(Date.now() / 1000);

let appCount = 0;
/** A new app on the auth server (its own counters and faults), with a signed-in user's AuthResult. */
export async function newApp(auth, prefix, settings = {}, { login = true } = {}) {
  const app = `${prefix}${++appCount}`;
  await auth.admin("PUT", `/admin/apps/${app}`, { auth_token_lifetime: 300, ...settings });
  const email = `user${appCount}@example.com`;
  const authResult = login ? await demoLogin(auth, app, email) : undefined;
  await auth.admin("POST", `/admin/stats/reset?app=${app}`);
  return {
    app,
    email,
    authResult,
    stats: () => auth.admin("GET", `/admin/stats?app=${app}`),
    fault: (spec) => auth.admin("POST", "/admin/faults", { app, ...spec }),
  };
}

/** The server's demo login: the AuthResult a Passage element's onSuccess would hand over. */
export async function demoLogin(auth, app, identifier) {
  const res = await fetch(`${auth.url}/v1/apps/${app}/demo/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identifier }),
  });
  if (res.status !== 200) throw new Error(`demo login: ${res.status}`);
  return (await res.json()).auth_result;
}

/** Gives the page `make(options)` (a PassageUser for the app that records its events) and `attempt(promise)`. */
export async function installHelpers(page, app, authOrigin) {
  await page.evaluate(
    ([app, authOrigin]) => {
      window.events = [];
      window.make = (options = {}) => {
        const user = new window.psg.PassageUser({ appId: app, authOrigin, ...options });
        user.onAuthStateChange((event, detail) => window.events.push([event, detail.reason ?? null]));
        return user;
      };
      window.attempt = async (promise) => {
        try {
          return { ok: true, value: await promise };
        } catch (e) {
          return {
            ok: false,
            code: e.code,
            retryAfter: e.retryAfter,
            status: e.status,
            serverCode: e.serverCode,
            message: e.message,
            isPassageError: e instanceof window.psg.PassageError,
          };
        }
      };
    },
    [app, authOrigin],
  );
}

/**
 * Polls `check` every 20 ms until it is true; fails after `ms` naming `what`.
 * Tests wait for the state they need with it, never for time to pass.
 */
export async function until(check, ms, what) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

/** Does the server still accept refresh token `rt`? (Using it rotates it.) */
export async function serverAccepts(auth, app, rt) {
  const res = await fetch(`${auth.url}/v1/apps/${app}/tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: rt }),
  });
  return res.status === 200;
}

/** An expired JWT naming `app`, standing in for a stale stored auth token. */
export function staleJwt(authUrl, app) {
  return fakeJwt({ sub: "u", iat: nowS() - 600, exp: nowS() - 300, aud: [authUrl, app] });
}

/**
 * The wasm linear memory of a page: every live WebAssembly.Memory in its heap
 * (CDP Runtime.queryObjects), summed; null when there is none.
 */
export async function wasmMemory(cdp) {
  const { result: proto } = await cdp.send("Runtime.evaluate", { expression: "WebAssembly.Memory.prototype" });
  const { objects } = await cdp.send("Runtime.queryObjects", { prototypeObjectId: proto.objectId });
  const { result } = await cdp.send("Runtime.callFunctionOn", {
    objectId: objects.objectId,
    functionDeclaration: "function () { return this.length ? this.reduce((n, m) => n + m.buffer.byteLength, 0) : null; }",
    returnByValue: true,
  });
  await cdp.send("Runtime.releaseObject", { objectId: objects.objectId });
  await cdp.send("Runtime.releaseObject", { objectId: proto.objectId });
  return result.value;
}

/** The usual trio of a browser suite: the static site, the auth server and Chromium. */
export async function startAll() {
  const [site, auth] = await Promise.all([startStatic(), startAuthServer()]);
  return { site, auth, browser: await launchBrowser() };
}

/** Stops what `startAll` started (any part may be missing after a failed start). */
export async function stopAll({ browser, site, auth } = {}) {
  await browser?.close();
  await site?.close();
  await auth?.stop();
}
