import { PassageUser, PassageError } from "/pkg/index.js";

const APP = "demo";
const AUTH_ORIGIN = location.origin;
const $ = (id) => document.getElementById(id);

const user = new PassageUser({ appId: APP, authOrigin: AUTH_ORIGIN });

function logEvent(text) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $("events").prepend(li);
}

user.onAuthStateChange((event, detail) => {
  logEvent(detail.reason ? `${event} (${detail.reason})` : event);
  render();
});

// Stands in for a Passage element: its onSuccess hands the AuthResult over.
async function demoLogin(identifier) {
  const res = await fetch(`${AUTH_ORIGIN}/v1/apps/${APP}/demo/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identifier }),
  });
  if (!res.ok) throw new Error(`login failed: ${res.status}`);
  return (await res.json()).auth_result;
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    user.setAuthResult(await demoLogin($("identifier").value));
  } catch (error) {
    logEvent(`login error: ${error.message}`);
  }
});

$("call-api").addEventListener("click", async () => {
  try {
    const token = await user.getAuthToken();
    const res = await fetch(`${AUTH_ORIGIN}/v1/apps/${APP}/demo/api/hello`, {
      headers: { authorization: `Bearer ${token}` },
    });
    $("api-result").textContent = `${res.status} ${JSON.stringify(await res.json(), null, 2)}`;
  } catch (error) {
    $("api-result").textContent = describe(error);
  }
});

$("force-refresh").addEventListener("click", () => user.refresh().catch((e) => logEvent(describe(e))));
$("new-tab").addEventListener("click", () => window.open(location.href, "_blank"));
$("sign-out").addEventListener("click", async () => {
  const confirmed = await user.signOut();
  logEvent(confirmed ? "revocation confirmed by the server" : "revocation pending: will retry");
});

function describe(error) {
  return error instanceof PassageError ? `${error.code}: ${error.message}` : String(error);
}

let expiresAt = 0;
async function render() {
  let token;
  try {
    token = await user.getAuthToken();
  } catch (error) {
    $("signed-in").hidden = true;
    $("signed-out").hidden = false;
    $("email").textContent = "";
    if (!(error instanceof PassageError && error.code === "login_required")) logEvent(describe(error));
    return;
  }
  const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  expiresAt = claims.exp;
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  if (!$("email").textContent) {
    const info = await user.userInfo().catch(() => undefined);
    $("email").textContent = info?.email ?? claims.sub;
  }
  tick();
}

function tick() {
  const left = Math.round(expiresAt - Date.now() / 1000);
  $("state").textContent = left > 0 ? "fresh" : "expired";
  $("state").className = left > 0 ? "fresh" : "stale";
  $("time-left").textContent = left > 0 ? `(expires in ${left} s)` : "";
}

// Asking for the token every second shows the silent refresh: when it runs
// out, getAuthToken() refreshes it and TOKEN_REFRESHED appears above.
setInterval(() => {
  if (!$("signed-in").hidden) render();
}, 1000);
render();
