// The demo (www/) as the README's demo command serves it: the local auth
// server with --www www --pkg pkg, here with 3-second auth tokens so that a
// refresh shows up quickly. Playwright clicks through it in Chromium: sign
// in, the user from userInfo(), the protected API through the axios
// interceptor, a refresh, a second tab in step, sign-out in both tabs. A
// screenshot is saved to test-results/demo.png.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { launchBrowser, ROOT, startAuthServer } from "./harness.mjs";

const RESULTS = join(ROOT, "test-results");

let browser, auth;
before(async () => {
  // What scripts/demo.sh does before starting the server.
  mkdirSync(join(ROOT, "www/vendor"), { recursive: true });
  for (const file of ["axios.min.js", "axios.min.js.map"]) {
    copyFileSync(join(ROOT, "node_modules/axios/dist/esm", file), join(ROOT, "www/vendor", file));
  }
  auth = await startAuthServer(["--www", join(ROOT, "www"), "--pkg", join(ROOT, "pkg"), "--auth-token-lifetime", "3"]);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await auth?.stop();
});

const stats = () => auth.admin("GET", "/admin/stats?app=demo");

/** Records a page's uncaught errors and console errors. */
function watch(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  return errors;
}

const session = (page, state) => page.waitForSelector(`body[data-session="${state}"]`, { timeout: 20_000 });

test("sign in, call the API through axios, watch a refresh, a second tab in step, sign out everywhere", async () => {
  const context = await browser.newContext({ viewport: { width: 960, height: 900 } });
  try {
    const page = await context.newPage();
    const errors = watch(page);
    await page.goto(`${auth.url}/`);
    await session(page, "signed-out");

    // Sign in through the demo login; the page hands the AuthResult over.
    const email = "carol@example.com";
    await page.fill("#identifier", email);
    await page.click("#sign-in");
    await session(page, "signed-in");
    await page.waitForFunction((email) => document.getElementById("email").textContent === email, email);
    assert.match(await page.textContent("#user-id"), /^user id \S+/);
    await page.waitForSelector('#events li[data-event="SIGNED_IN"]');
    assert.match(await page.textContent("#time-left"), /^expires in \d s$/);

    // The protected API through the axios interceptor: 200 with the user.
    await page.click("#call-api");
    await page.waitForFunction(() => /^\d{3}/.test(document.getElementById("api-status").textContent));
    assert.match(await page.textContent("#api-status"), /^200 OK/);
    assert.ok((await page.textContent("#api-result")).includes(`"email": "${email}"`));
    assert.equal((await stats()).hello, 1);

    // The 3-second token runs out: getAuthToken() refreshes it, visibly.
    await page.waitForSelector('#events li[data-event="TOKEN_REFRESHED"]', { timeout: 20_000 });
    assert.ok(Number(await page.textContent("#refresh-count")) >= 1);
    assert.ok((await stats()).refresh_ok >= 1);
    // The API still answers with the refreshed token.
    await page.click("#call-api"); // shows "calling…" until the answer
    await page.waitForFunction(() => /^\d{3}/.test(document.getElementById("api-status").textContent));
    assert.match(await page.textContent("#api-status"), /^200 OK/);
    assert.equal((await stats()).hello, 2);

    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: join(RESULTS, "demo.png"), fullPage: true });

    // A second tab: signed in at once, from the shared storage.
    const [second] = await Promise.all([context.waitForEvent("page"), page.click("#new-tab")]);
    const secondErrors = watch(second);
    await second.waitForLoadState();
    await session(second, "signed-in");
    await second.waitForFunction((email) => document.getElementById("email").textContent === email, email);
    assert.match(await second.textContent("#tab-name"), /tab 2/);

    // Sign out in the first tab: both tabs are signed out.
    await page.click("#sign-out");
    await Promise.all([session(page, "signed-out"), session(second, "signed-out")]);
    await second.waitForSelector('#events li[data-event="SIGNED_OUT"]');
    assert.match(await second.textContent('#events li[data-event="SIGNED_OUT"]'), /signed out in another tab/);
    await page.waitForSelector('#events li[data-event="REVOKE"]');
    assert.match(await page.textContent('#events li[data-event="REVOKE"]'), /server confirmed/);
    const s = await stats();
    assert.equal(s.revoke_ok, 1);
    await second.screenshot({ path: join(RESULTS, "demo-signed-out.png"), fullPage: true });

    // Nothing is handed out after sign-out, in either tab.
    for (const p of [page, second]) {
      const code = await p.evaluate(async () => {
        const { PassageUser } = await import("/pkg/index.js");
        try {
          await new PassageUser({ appId: "demo", authOrigin: location.origin }).getAuthToken();
          return "token";
        } catch (e) {
          return e.code;
        }
      });
      assert.equal(code, "login_required");
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(secondErrors, []);
  } finally {
    await context.close();
  }
});
