// The package unchanged in a Vite and a webpack 5 production build: each
// minimal app in tests/bundlers/ imports it by its npm name, is built into a
// temporary directory, served alone on 127.0.0.1 and loaded in Chromium,
// where it signs in through the auth server's demo login and gets its token
// (and the user) back; then a stale token is refreshed by the bundled code.
// (The plain module page without a bundler is foundation.test.mjs.)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { demoLogin, launchBrowser, newApp, ROOT, staleJwt, startAuthServer, startStatic } from "./harness.mjs";

const BUNDLERS = {
  vite: {
    command: (out) => [join(ROOT, "node_modules/.bin/vite"), ["build", "--config", "tests/bundlers/vite/vite.config.js", "--outDir", out, "--emptyOutDir"]],
  },
  webpack: {
    command: (out) => [join(ROOT, "node_modules/.bin/webpack"), ["--config", "tests/bundlers/webpack/webpack.config.js", "--env", `out=${out}`]],
    // webpack builds the script; the page is the app's own.
    after: (out) => copyFileSync(join(ROOT, "tests/bundlers/webpack/index.html"), join(out, "index.html")),
  },
};

function run(file, args) {
  return new Promise((ok, fail) => {
    execFile(file, args, { cwd: ROOT, timeout: 300_000, env: { ...process.env, NO_COLOR: "1" } }, (error, stdout, stderr) => {
      if (error) fail(new Error(`${file} failed: ${error.message}\n${stdout}\n${stderr}`));
      else ok();
    });
  });
}

let browser, auth;
const dirs = [];
before(async () => {
  auth = await startAuthServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await auth?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("bundlers", () => {
  for (const [name, bundler] of Object.entries(BUNDLERS)) {
    test(`a ${name} production build gets a token from the auth server and refreshes a stale one`, async () => {
      const out = mkdtempSync(join(tmpdir(), `psg-${name}-`));
      dirs.push(out);
      await run(...bundler.command(out));
      bundler.after?.(out);
      const files = readdirSync(out, { recursive: true }).map(String);
      // The wasm travels inside the package's module: no asset to emit.
      assert.ok(!files.some((f) => f.endsWith(".wasm")), `${name} emitted no wasm asset: ${files.join(", ")}`);

      const site = await startStatic(out);
      const context = await browser.newContext();
      try {
        const t = await newApp(auth, name, {}, { login: false });
        const page = await context.newPage();
        const errors = [];
        page.on("pageerror", (e) => errors.push(e.message));
        page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
        const requested = [];
        page.on("request", (r) => requested.push(new URL(r.url()).pathname));
        const query = new URLSearchParams({ auth: auth.url, app: t.app, email: t.email });
        await page.goto(`${site.url}/index.html?${query}`);
        await page.waitForFunction(() => document.getElementById("out")?.textContent !== "loading", null, { timeout: 30_000 });
        const result = JSON.parse(await page.textContent("#out"));
        assert.deepEqual(result, { ok: true, sameToken: true, email: t.email });
        assert.ok(!requested.some((p) => p.endsWith(".wasm")), "no request for a wasm file");

        // A stale token with a live refresh token: the bundled code refreshes it once.
        const login = await demoLogin(auth, t.app, t.email);
        await auth.admin("POST", `/admin/stats/reset?app=${t.app}`);
        const r = await page.evaluate(
          async ([app, authOrigin, login, stale]) => {
            const { PassageUser, PassageError } = window.psg;
            const user = new PassageUser({ appId: app, authOrigin, tokenStore: "memory" });
            user.setAuthResult({ ...login, auth_token: stale });
            const [a, b] = await Promise.all([user.getAuthToken(), user.getAuthToken()]);
            let signedOut;
            await user.signOut();
            try {
              await user.getAuthToken();
            } catch (e) {
              signedOut = { code: e.code, isPassageError: e instanceof PassageError };
            }
            return { same: a === b, isNew: a !== login.auth_token && a !== stale, jwt: a.split(".").length === 3, signedOut };
          },
          [t.app, auth.url, login, staleJwt(auth.url, t.app)],
        );
        assert.deepEqual(r, { same: true, isNew: true, jwt: true, signedOut: { code: "login_required", isPassageError: true } });
        const stats = await t.stats();
        assert.equal(stats.refresh, 1);
        assert.equal(stats.refresh_ok, 1);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
        await site.close();
      }
    });
  }
});
