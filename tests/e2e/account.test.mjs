// The signed-in user's account, differentially: every method of passage-js
// 4.1.2's PassageCurrentUser and of this package, called with the same
// arguments against the local auth server, must send the same requests and
// resolve deep-equal values (random ids and times compared by shape).
// addPasskey runs the real WebAuthn ceremony in headless Chromium with the
// DevTools virtual authenticator, on http://localhost (Chromium refuses
// WebAuthn on 127.0.0.1).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { ROOT, installHelpers, newApp, openPage, startAll, stopAll } from "./harness.mjs";

let browser, site, auth, localSite;
before(async () => {
  ({ browser, site, auth } = await startAll());
  // The page on localhost: the origin WebAuthn accepts.
  localSite = site.url.replace("127.0.0.1", "localhost");
  mkdirSync(join(ROOT, "tests/e2e/.build"), { recursive: true });
  await build({
    stdin: {
      contents: 'export { PassageCurrentUser, PassageSession, PassageTokenStore } from "@passageidentity/passage-js";',
      resolveDir: ROOT,
    },
    bundle: true,
    format: "esm",
    platform: "browser",
    outfile: join(ROOT, "tests/e2e/.build/passage-js.js"),
    logLevel: "warning",
  });
});
after(() => stopAll({ browser, site, auth }));

/** An app with declared metadata fields and passkeys allowed from the test page; a signed-in page. */
async function setup() {
  const t = await newApp(auth, "account", {
    rp_id: "localhost",
    webauthn_origins: [localSite],
    user_metadata_schema: [
      { field_name: "plan", type: "string" },
      { field_name: "seats", type: "integer" },
      { field_name: "beta", type: "boolean" },
    ],
  });
  const context = await browser.newContext();
  const page = await openPage(context, localSite);
  await installHelpers(page, t.app, auth.url);
  await page.evaluate(
    async ([authResult, app, authOrigin]) => {
      const { PassageCurrentUser, PassageSession, PassageTokenStore } = await import("/tests/e2e/.build/passage-js.js");
      // Both libraries share the session under passage-js's keys.
      window.ours = window.make();
      window.ours.setAuthResult(authResult);
      const config = { appId: app, tokenStore: new PassageTokenStore(), basePath: `${authOrigin}/v1`, additionalHeaders: {} };
      window.theirs = new PassageCurrentUser(config, new PassageSession(config));
      // Every request either library sends to the current-user endpoints.
      window.sent = [];
      const original = window.fetch;
      window.fetch = async (input, init) => {
        const request = new Request(input, init);
        if (request.url.includes("/currentuser")) {
          const text = await request.clone().text();
          window.sent.push({
            method: request.method,
            path: new URL(request.url).pathname,
            body: text ? JSON.parse(text) : null,
            bearer: /^Bearer \S+$/.test(request.headers.get("authorization") ?? ""),
          });
        }
        return original(request);
      };
      /** Calls `method` on both with `args`; each call's value (or error) and requests. */
      window.both = async (method, args = [], prepare) => {
        const run = async (lib) => {
          window.sent = [];
          const callArgs = prepare ? await prepare(lib) : args;
          try {
            return { value: await lib[method](...callArgs), sent: window.sent };
          } catch (e) {
            return { error: { name: e?.name, status: e?.status ?? e?.statusCode }, sent: window.sent };
          }
        };
        return { ours: await run(window.ours), theirs: await run(window.theirs) };
      };
      /** A value as structured data: Dates marked, undefined kept apart from absent. */
      window.plain = (v) =>
        v instanceof Date ? { date: isNaN(v) ? "invalid" : v.toISOString() }
        : Array.isArray(v) ? v.map(window.plain)
        : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === undefined ? "<undefined>" : window.plain(x)]))
        : v;
    },
    [t.authResult, t.app, auth.url],
  );
  return { ...t, context, page, done: () => context.close() };
}

/** Values whose content is random (ids, times, credentials) replaced by their shape. */
const VOLATILE = /^(id|credId|userId|createdAt|updatedAt|lastLoginAt|handshake_id|user_id|rawId|attestationObject|clientDataJSON)$/;
function shape(v, key = "") {
  if (Array.isArray(v)) return v.map((x) => shape(x));
  if (v && typeof v === "object") {
    if ("date" in v && Object.keys(v).length === 1) return { date: v.date === "invalid" ? "invalid" : "<date>" };
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x, k)]));
  }
  if (VOLATILE.test(key) && typeof v === "string") return v === "" ? "" : `<${key}>`;
  return v;
}

/** Asserts both libraries sent the same requests and resolved the same value. */
async function same(t, method, args, { exact = false } = {}) {
  const r = await t.page.evaluate(
    async ([method, args]) => {
      const r = await window.both(method, args);
      for (const side of [r.ours, r.theirs]) if ("value" in side) side.value = window.plain(side.value);
      return r;
    },
    [method, args],
  );
  assert.ok(!r.ours.error, `${method}: ours failed: ${JSON.stringify(r.ours.error)}`);
  assert.ok(!r.theirs.error, `${method}: passage-js failed: ${JSON.stringify(r.theirs.error)}`);
  assert.deepEqual(shape(r.ours.sent), shape(r.theirs.sent), `${method}: the requests differ`);
  if (exact) assert.deepEqual(r.ours.value, r.theirs.value, `${method}: the values differ`);
  else assert.deepEqual(shape(r.ours.value), shape(r.theirs.value), `${method}: the values differ`);
  return r;
}

describe("the signed-in user, as passage-js's PassageCurrentUser", () => {
  test("userInfo, metadata and updateMetadata: the same requests, deep-equal values", async () => {
    const t = await setup();
    const info = await same(t, "userInfo", [], { exact: true });
    assert.equal(info.ours.value.email, t.email);
    assert.deepEqual(info.ours.sent, [{ method: "GET", path: `/v1/apps/${t.app}/currentuser`, body: null, bearer: true }]);
    // camelCase, and the server's strings kept as strings.
    assert.equal(typeof info.ours.value.createdAt, "string");
    assert.ok(Array.isArray(info.ours.value.webauthnDevices));
    await same(t, "updateMetadata", [{ plan: "pro", seats: 3, beta: true }], { exact: true });
    const metadata = await same(t, "metadata", [], { exact: true });
    assert.deepEqual(metadata.ours.value, { plan: "pro", seats: 3, beta: true });
    await t.done();
  });

  test("changeEmail and changePhone: the magic link, the change applied once it is opened", async () => {
    const t = await setup();
    const email = await same(t, "changeEmail", [`new-${t.app}@example.com`, "en"]);
    assert.deepEqual(email.ours.sent[0].body, { language: "en", new_email: `new-${t.app}@example.com` });
    assert.deepEqual(Object.keys(email.ours.value), ["id"]);
    await same(t, "changeEmail", [`other-${t.app}@example.com`]);
    const phone = await same(t, "changePhone", ["+15555550123"]);
    assert.deepEqual(phone.ours.sent[0].body, { new_phone: "+15555550123" });
    // Opening our link applies the change.
    const { magic_links } = await auth.admin("GET", `/admin/apps/${t.app}/magic-links`);
    const link = magic_links.find((l) => l.id === email.ours.value.id);
    assert.equal(link.new_value, `new-${t.app}@example.com`);
    await auth.admin("POST", `/admin/apps/${t.app}/magic-links/${link.id}/open`).catch(() => {});
    await t.done();
  });

  test("social connections: listed with Dates where passage-js makes them, and deleted", async () => {
    const t = await setup();
    await auth.admin("POST", `/admin/apps/${t.app}/users/${encodeURIComponent(t.email)}/social-connections`, {
      type: "github",
      provider_id: "1234",
      provider_identifier: "octocat",
    });
    const list = await same(t, "listSocialConnections", [], { exact: true });
    assert.equal(list.ours.value.github.providerIdentifier, "octocat");
    assert.ok(list.ours.value.github.createdAt.date, "createdAt is a Date");
    assert.equal(list.ours.value.apple, "<undefined>");
    const info = await same(t, "userInfo", [], { exact: true });
    assert.ok(info.ours.value.socialConnections.github.lastLoginAt.date);
    const r = await t.page.evaluate(async () => ({
      ours: await window.ours.deleteSocialConnection("github"),
      again: await window.attempt(window.ours.deleteSocialConnection("github")),
      sent: window.sent,
    }));
    assert.equal(r.ours, true);
    assert.equal(r.again.code, "request_refused");
    await t.done();
  });

  test("passkeys: added through the WebAuthn ceremony (virtual authenticator), listed, renamed, deleted; psg_cred_obj kept as passage-js keeps it", async () => {
    const t = await setup();
    const cdp = await t.context.newCDPSession(t.page);
    await cdp.send("WebAuthn.enable");
    // One authenticator each: a second registration for the same user on
    // one authenticator is refused by the browser (excludeCredentials).
    const authenticator = () =>
      cdp.send("WebAuthn.addVirtualAuthenticator", {
        options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
    const add = (lib) =>
      t.page.evaluate(async (lib) => {
        window.sent = [];
        try {
          const value = window.plain(await window[lib].addPasskey({ authenticatorAttachment: "platform" }));
          return { value, sent: window.sent };
        } catch (e) {
          return { error: { name: e?.name, code: e?.code, status: e?.status }, sent: window.sent };
        }
      }, lib);
    const first = await authenticator();
    const ours = await add("ours");
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: first.authenticatorId });
    await authenticator();
    const theirs = await add("theirs");
    const added = { r: { ours, theirs }, credentials: await t.page.evaluate(() => JSON.parse(localStorage.getItem("psg_cred_obj"))) };
    for (const side of ["ours", "theirs"]) assert.ok(!added.r[side].error, `${side}: ${JSON.stringify(added.r[side].error)}`);
    assert.deepEqual(shape(added.r.ours.sent), shape(added.r.theirs.sent));
    assert.deepEqual(added.r.ours.sent.map((s) => s.path.split("/").pop()), ["start", "finish"]);
    assert.deepEqual(added.r.ours.sent[0].body, { authenticator_attachment: "platform" });
    assert.deepEqual(shape(added.r.ours.value), shape(added.r.theirs.value));
    // Each library registered its own credential; both remembered for the user.
    const userId = added.r.ours.value.userId;
    assert.deepEqual(Object.keys(added.credentials), [userId]);
    assert.equal(added.credentials[userId], added.r.theirs.value.credId);
    const listed = await same(t, "passkeys", [], { exact: true });
    assert.equal(listed.ours.value.length, 2);
    const id = added.r.ours.value.id;
    await same(t, "editPasskey", [id, "Laptop"]);
    const renamed = await t.page.evaluate(async () => (await window.ours.passkeys()).map((p) => p.friendlyName));
    assert.ok(renamed.includes("Laptop"));
    // Deleting: ours deletes one, passage-js the other, each with the passkey object.
    const deleted = await t.page.evaluate(async () => {
      const [a, b] = await window.ours.passkeys();
      return {
        ours: await window.ours.deletePasskey(a),
        theirs: await window.theirs.deletePasskey(b),
        left: await window.ours.passkeys(),
        credentials: localStorage.getItem("psg_cred_obj"),
      };
    });
    assert.deepEqual([deleted.ours, deleted.theirs, deleted.left], [true, true, []]);
    assert.equal(deleted.credentials, "{}");
    await t.done();
  });

  test("a 4xx from the server is request_refused with the status and the server's code; a fixed message", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async () => ({
      badEmail: await window.attempt(window.ours.changeEmail("not an email")),
      unknownField: await window.attempt(window.ours.updateMetadata({ color: "red" })),
      wrongType: await window.attempt(window.ours.updateMetadata({ seats: "three" })),
      otherDevice: await window.attempt(window.ours.editPasskey("no-such-device", "x")),
      emptyId: await window.attempt(window.ours.editPasskey("", "x")),
      sentForEmpty: window.sent.length,
    }));
    for (const key of ["badEmail", "unknownField", "wrongType", "otherDevice"]) {
      assert.equal(r[key].code, "request_refused", key);
      assert.equal(r[key].message, "the auth server refused the request");
    }
    assert.equal(r.badEmail.status, 400);
    assert.equal(r.otherDevice.status, 404);
    assert.equal(r.otherDevice.serverCode, "device_not_found");
    assert.equal(r.emptyId.code, "invalid_options");
    await t.done();
  });

  test("signed out: every method rejects login_required and sends nothing, but userInfo, which resolves undefined", async () => {
    const t = await setup();
    const r = await t.page.evaluate(async () => {
      await window.ours.signOut();
      window.sent = [];
      const calls = {
        changeEmail: () => window.ours.changeEmail("a@example.com"),
        changePhone: () => window.ours.changePhone("+15555550100"),
        passkeys: () => window.ours.passkeys(),
        editPasskey: () => window.ours.editPasskey("x", "y"),
        addPasskey: () => window.ours.addPasskey(),
        deletePasskey: () => window.ours.deletePasskey({ id: "x" }),
        listSocialConnections: () => window.ours.listSocialConnections(),
        deleteSocialConnection: () => window.ours.deleteSocialConnection("github"),
        metadata: () => window.ours.metadata(),
        updateMetadata: () => window.ours.updateMetadata({ plan: "x" }),
      };
      const codes = {};
      for (const [name, call] of Object.entries(calls)) codes[name] = (await window.attempt(call())).code;
      return { codes, info: await window.ours.userInfo(), sent: window.sent.length };
    });
    for (const [name, code] of Object.entries(r.codes)) assert.equal(code, "login_required", name);
    assert.equal(r.info, undefined);
    assert.equal(r.sent, 0);
    await t.done();
  });

  test("a stale token is refreshed once for concurrent calls, and a 401 forces one refresh and one retry", async () => {
    const t = await setup();
    await t.page.evaluate(async (stale) => {
      // A stale auth token: the account calls refresh first, once.
      localStorage.setItem("psg_auth_token", stale);
      window.ours = window.make();
    }, (await import("./harness.mjs")).staleJwt(auth.url, t.app));
    await auth.admin("POST", "/admin/stats/reset?app=" + t.app);
    const r = await t.page.evaluate(async () => {
      const results = await Promise.all([window.ours.metadata(), window.ours.passkeys(), window.ours.userInfo()]);
      return results.map((x) => typeof x);
    });
    assert.deepEqual(r, ["object", "object", "object"]);
    assert.equal((await t.stats()).refresh, 1);
    // The server refuses the next token once: one forced refresh, one retry.
    await t.fault({ endpoint: "account", status: 401, count: 1 });
    const again = await t.page.evaluate(async () => typeof (await window.ours.metadata()));
    assert.equal(again, "object");
    assert.equal((await t.stats()).refresh, 2);
    await t.done();
  });
});


