// The demo page: the package from /pkg/, axios from /vendor/ (copied from
// node_modules by scripts/demo.sh), both served by the local auth server,
// which is also this page's origin.
import { PassageUser, PassageError } from "/pkg/index.js";

const APP = "demo";
const AUTH_ORIGIN = location.origin;
const TAB = Number(new URLSearchParams(location.search).get("tab")) || 1;
const $ = (id) => document.getElementById(id);

const user = new PassageUser({ appId: APP, authOrigin: AUTH_ORIGIN });

// The protected API goes through axios; the interceptor adds the token for
// this origin only and retries a 401 once after a forced refresh.
let api;
try {
  const { default: axios } = await import("./vendor/axios.min.js");
  api = axios.create({ baseURL: `${AUTH_ORIGIN}/v1/apps/${APP}` });
  user.axiosInterceptor(api, { origins: [AUTH_ORIGIN] });
} catch {
  // Served without scripts/demo.sh: the API button explains.
}

// --- auth events ------------------------------------------------------------

const REASONS = {
  sign_out: "signed out in this tab",
  other_tab: "signed out in another tab",
  refresh_refused: "the server refused the refresh token",
  expired: "the session ended",
};
const clock = (seconds) => new Date(seconds * 1000).toLocaleTimeString();

function log(kind, name, text) {
  const li = document.createElement("li");
  li.dataset.event = name;
  li.className = kind;
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString();
  const badge = document.createElement("span");
  badge.className = `badge ${name.toLowerCase()}`;
  badge.textContent = name;
  const detail = document.createElement("span");
  detail.textContent = text;
  li.append(time, badge, detail);
  $("events").prepend(li);
  $("no-events").hidden = true;
}

let refreshes = 0;
user.onAuthStateChange((event, detail) => {
  const text = detail.reason
    ? REASONS[detail.reason] ?? detail.reason
    : detail.expiresAt
      ? `token valid until ${clock(detail.expiresAt)}`
      : "";
  log("auth", event, text);
  if (event === "TOKEN_REFRESHED") {
    $("refresh-count").textContent = String(++refreshes);
    const box = $("signed-in");
    box.classList.remove("flash");
    void box.offsetWidth; // restart the animation
    box.classList.add("flash");
  }
  sync();
});

// --- sign in and out ----------------------------------------------------------

// Stands in for a Passage element: its onSuccess hands the AuthResult over.
async function demoLogin(identifier) {
  const res = await fetch(`${AUTH_ORIGIN}/v1/apps/${APP}/demo/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identifier }),
  });
  if (!res.ok) throw new Error(`the demo login answered ${res.status}`);
  return (await res.json()).auth_result;
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("sign-in").disabled = true;
  try {
    user.setAuthResult(await demoLogin($("identifier").value));
  } catch (error) {
    log("note", "ERROR", describe(error));
  } finally {
    $("sign-in").disabled = false;
  }
});

$("sign-out").addEventListener("click", async () => {
  const confirmed = await user.signOut();
  log("note", "REVOKE", confirmed ? "the server confirmed the revocation" : "revocation pending: it will be retried");
});

$("force-refresh").addEventListener("click", () => user.refresh().catch((e) => log("note", "ERROR", describe(e))));
$("new-tab").addEventListener("click", () => window.open(`${location.pathname}?tab=${TAB + 1}`, "_blank"));

// --- the protected API ----------------------------------------------------------

$("call-api").addEventListener("click", async () => {
  $("api").hidden = false;
  if (!api) {
    show("error", "axios is missing", "Start the demo with ./scripts/demo.sh, which copies axios into www/vendor/.");
    return;
  }
  show("pending", "calling GET /demo/api/hello …", "");
  try {
    const res = await api.get("/demo/api/hello");
    const { message, user: who, server_time: serverTime } = res.data;
    show("ok", `${res.status} OK at ${clock(serverTime)}`, `${message}\n\nuser: ${JSON.stringify(pick(who), null, 2)}`);
  } catch (error) {
    if (error.response) show("error", `${error.response.status}`, JSON.stringify(error.response.data, null, 2));
    else show("error", "failed", describe(error));
  }
});

const pick = (u) => ({ id: u.id, email: u.email, status: u.status, login_count: u.login_count });

function show(kind, status, body) {
  $("api-status").className = `status ${kind}`;
  $("api-status").textContent = status;
  $("api-result").textContent = body;
}

function describe(error) {
  return error instanceof PassageError ? `${error.code}: ${error.message}` : String(error?.message ?? error);
}

// --- the account (passage-js's currentUser methods) ---------------------------

// The local server's admin API stands in for the user's inbox (opening a
// magic link) and for an OAuth provider (a social connection).
const admin = (method, path, body) =>
  fetch(`${AUTH_ORIGIN}/admin/apps/${APP}${path}`, {
    method,
    headers: { authorization: "Bearer local-admin-key", "content-type": "application/json" },
    body: body && JSON.stringify(body),
  }).then((res) => (res.ok ? res.json() : Promise.reject(new Error(`the admin API answered ${res.status}`))));

function note(kind, text) {
  $("account-status").className = `status ${kind}`;
  $("account-status").textContent = text;
}

/** Runs an account action, redraws the account, then reports the action (so the card is current once the report shows). */
async function act(what, action) {
  let report;
  try {
    const done = await action();
    report = ["ok", what + (done ? `: ${done}` : "")];
  } catch (error) {
    report = ["error", `${what} failed: ${describe(error)}`];
  }
  await account();
  note(...report);
}

function row(list, text, buttons) {
  const li = document.createElement("li");
  const label = document.createElement("span");
  label.textContent = text;
  const box = document.createElement("div");
  box.className = "buttons";
  for (const [name, kind, onClick] of buttons) {
    const b = document.createElement("button");
    b.textContent = name;
    b.className = `${kind} small`;
    b.addEventListener("click", onClick);
    box.append(b);
  }
  li.append(label, box);
  list.append(li);
}

let pendingLink;

/** Draws the account from passkeys(), metadata() and listSocialConnections(). */
async function account() {
  try {
    const [passkeys, metadata, social] = await Promise.all([user.passkeys(), user.metadata(), user.listSocialConnections()]);
    $("passkeys").replaceChildren();
    for (const passkey of passkeys) {
      row($("passkeys"), `${passkey.friendlyName} (${passkey.type})`, [
        ["Rename", "secondary", () => {
          const name = prompt("A name for this passkey", passkey.friendlyName);
          if (name) act("Renamed", async () => (await user.editPasskey(passkey.id, name)).friendlyName);
        }],
        ["Delete", "danger", () => act("Deleted the passkey", () => user.deletePasskey(passkey).then(() => ""))],
      ]);
    }
    $("no-passkeys").hidden = passkeys.length > 0;
    $("nickname").value = metadata?.nickname ?? "";
    $("newsletter").checked = metadata?.newsletter === true;
    $("social").replaceChildren();
    for (const [provider, connection] of Object.entries(social ?? {})) {
      if (!connection) continue;
      row($("social"), `${provider}: ${connection.providerIdentifier}, since ${connection.createdAt.toLocaleDateString()}`, [
        ["Disconnect", "danger", () => act(`Disconnected ${provider}`, () => user.deleteSocialConnection(provider).then(() => ""))],
      ]);
    }
    $("no-social").hidden = $("social").children.length > 0;
    $("email-pending").hidden = !pendingLink;
    $("link-id").textContent = pendingLink ?? "";
  } catch (error) {
    if (!(error instanceof PassageError && error.code === "login_required")) note("error", describe(error));
  }
}

$("email-form").addEventListener("submit", (e) => {
  e.preventDefault();
  act("A magic link was sent", async () => {
    pendingLink = (await user.changeEmail($("new-email").value)).id;
    return pendingLink;
  });
});

$("open-link").addEventListener("click", () =>
  act("The link applied the change", async () => {
    await admin("POST", `/magic-links/${pendingLink}/open`);
    pendingLink = undefined;
    const info = await user.userInfo();
    $("email").textContent = info?.email ?? "";
    return info?.email;
  }),
);

$("add-passkey").addEventListener("click", () => act("Added a passkey", async () => (await user.addPasskey()).friendlyName));

$("metadata-form").addEventListener("submit", (e) => {
  e.preventDefault();
  act("Saved", async () => {
    const updated = await user.updateMetadata({ nickname: $("nickname").value, newsletter: $("newsletter").checked });
    return JSON.stringify(updated.userMetadata);
  });
});

$("seed-github").addEventListener("click", () =>
  act("Connected GitHub", () =>
    admin("POST", `/users/${encodeURIComponent($("email").textContent)}/social-connections`, {
      type: "github",
      provider_identifier: $("email").textContent.split("@")[0],
    }).then(() => ""),
  ),
);

// --- the session view -------------------------------------------------------

let token;
let claims = {};
let syncing = false;

function decode(jwt) {
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part));
}

/** Asks for the token (a refresh when it is due) and renders what it finds. */
async function sync() {
  if (syncing) return;
  syncing = true;
  try {
    const current = await user.getAuthToken();
    if (current !== token) {
      token = current;
      claims = decode(current);
    }
    signedIn(true);
    if (!$("email").textContent) {
      const info = await user.userInfo().catch(() => undefined);
      $("email").textContent = info?.email ?? "";
      $("user-id").textContent = info ? `user id ${info.id}` : "";
    }
  } catch (error) {
    token = undefined;
    signedIn(false);
    if (!(error instanceof PassageError && error.code === "login_required")) log("note", "ERROR", describe(error));
  } finally {
    syncing = false;
    tick();
  }
}

function signedIn(yes) {
  if (yes && $("account").hidden) account();
  $("account").hidden = !yes;
  $("signed-in").hidden = !yes;
  $("signed-out").hidden = yes;
  document.body.dataset.session = yes ? "signed-in" : "signed-out";
  if (!yes) {
    $("email").textContent = "";
    $("user-id").textContent = "";
    $("api").hidden = true;
    show("", "", "");
  }
}

/** The countdown, four times a second. */
function tick() {
  if (!token) return;
  const left = claims.exp - Date.now() / 1000;
  const lifetime = Math.max(1, claims.exp - claims.iat);
  const state = left > 0 ? (syncing ? "refreshing" : "fresh") : "expired";
  $("state").textContent = state === "refreshing" ? "refreshing…" : state;
  $("state").className = `pill ${state}`;
  $("time-left").textContent = left > 0 ? `expires in ${Math.ceil(left)} s` : "expired";
  $("meter-fill").style.width = `${Math.max(0, Math.min(100, (left / lifetime) * 100))}%`;
  $("meter-fill").className = left / lifetime < 0.2 ? "low" : "";
}

$("tab-name").textContent = `in tab ${TAB}`;
document.title = TAB > 1 ? `PassageUser demo (tab ${TAB})` : "PassageUser demo";
setInterval(tick, 250);
// getAuthToken() is free while the token is fresh; once it is due, the call
// refreshes it (one request, whichever tab asks first).
setInterval(sync, 1000);
sync();
