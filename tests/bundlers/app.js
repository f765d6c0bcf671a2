// A minimal app as a bundler user writes it: the package by its npm name, no
// init call. The page's query names the auth server and app:
// index.html?auth=http://127.0.0.1:8787&app=demo&email=alice@example.com
import { PassageUser, PassageError } from "passage-user-wasm";

const params = new URLSearchParams(location.search);
const authOrigin = params.get("auth");
const appId = params.get("app");
const out = document.getElementById("out");

// For the test: the package as this bundle sees it.
window.psg = { PassageUser, PassageError };

async function main() {
  const user = new PassageUser({ appId, authOrigin });
  // The demo login stands in for a Passage element's onSuccess.
  const res = await fetch(`${authOrigin}/v1/apps/${appId}/demo/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identifier: params.get("email") }),
  });
  const { auth_result: authResult } = await res.json();
  user.setAuthResult(authResult);
  const token = await user.getAuthToken();
  const info = await user.userInfo();
  return { sameToken: token === authResult.auth_token, email: info?.email };
}

main().then(
  (result) => (out.textContent = JSON.stringify({ ok: true, ...result })),
  (error) => (out.textContent = JSON.stringify({ ok: false, code: error.code ?? null, message: String(error.message) })),
);
