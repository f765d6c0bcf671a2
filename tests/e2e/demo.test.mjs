// The demo (www/) as the README's demo command serves it: the local auth
// server with --www www --pkg pkg and the demo app's metadata fields, here
// with 3-second auth tokens so that a refresh shows up quickly, on
// http://localhost (passkeys need it). Playwright clicks through it in
// Chromium: sign in, the user from userInfo(), the protected API through the
// axios interceptor, a refresh, the Account card (an email change and its
// magic link, metadata, a social connection, a passkey added with the
// DevTools virtual authenticator, renamed and deleted), a second tab in
// step, sign-out in both tabs. Screenshots go to test-results/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
  // The config.json scripts/demo.sh writes into a new data directory.
  const data = mkdtempSync(join(tmpdir(), "psg-demo-"));
  const demo = readFileSync(join(ROOT, "scripts/demo.sh"), "utf8");
  writeFileSync(join(data, "config.json"), /<<'JSON'\n([\s\S]*?)\nJSON/.exec(demo)[1]);
  auth = await startAuthServer(["--www", join(ROOT, "www"), "--pkg", join(ROOT, "pkg"), "--auth-token-lifetime", "3"], data);
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
    // localhost, as the demo command prints it: passkeys refuse an IP.
    await page.goto(`${auth.url.replace("127.0.0.1", "localhost")}/`);
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

    // The Account card: an email change, applied once its link is opened.
    const account = (text) => page.waitForFunction((t) => document.getElementById("account-status").textContent.startsWith(t), text);
    const newEmail = "carol.new@example.com";
    await page.fill("#new-email", newEmail);
    await page.click("#email-form button");
    await account("A magic link was sent");
    await page.waitForSelector("#email-pending:not([hidden])");
    await page.click("#open-link");
    await account("The link applied the change");
    await page.waitForFunction((e) => document.getElementById("email").textContent === e, newEmail);
    // Metadata: the app's declared fields.
    await page.fill("#nickname", "Caro");
    await page.check("#newsletter");
    await page.click("#metadata-form button");
    await account("Saved");
    assert.match(await page.textContent("#account-status"), /"nickname":"Caro"/);
    // A social connection, seeded, shown with its date, disconnected.
    await page.click("#seed-github");
    await page.waitForFunction(() => document.getElementById("social").textContent.includes("github: carol.new"));
    // A passkey through the real WebAuthn ceremony (virtual authenticator).
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await page.click("#add-passkey");
    await account("Added a passkey");
    await page.waitForFunction(() => document.getElementById("passkeys").children.length === 1);
    page.once("dialog", (dialog) => dialog.accept("Work laptop"));
    await page.click("#passkeys button:has-text('Rename')");
    await account("Renamed: Work laptop");
    await page.waitForFunction(() => document.getElementById("passkeys").textContent.includes("Work laptop"));

    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: join(RESULTS, "demo.png"), fullPage: true });

    await page.click("#passkeys button:has-text('Delete')");
    await account("Deleted the passkey");
    await page.waitForFunction(() => document.getElementById("passkeys").children.length === 0);
    await page.click("#social button:has-text('Disconnect')");
    await account("Disconnected github");
    await page.waitForFunction(() => document.getElementById("social").children.length === 0);

    // A second tab: signed in at once, from the shared storage.
    const [second] = await Promise.all([context.waitForEvent("page"), page.click("#new-tab")]);
    const secondErrors = watch(second);
    await second.waitForLoadState();
    await session(second, "signed-in");
    await second.waitForFunction((email) => document.getElementById("email").textContent === email, newEmail);
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
