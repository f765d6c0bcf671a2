// The app of the CSP pages (served by adopter.test.mjs with a real
// Content-Security-Policy header): it imports the package, then a module of
// its own, and records what each method of PassageUser does.
import * as psg from "/pkg/index.js";
import { later } from "/tests/e2e/pages/csp-later.js";

const outcome = async (promise) => {
  try {
    await promise;
    return "ok";
  } catch (e) {
    return e.code;
  }
};
const thrown = (call) => {
  try {
    call();
    return "ok";
  } catch (e) {
    return e.code;
  }
};

const result = { later, constructed: false };
const user = new psg.PassageUser({ appId: "csp-app", authOrigin: "http://127.0.0.1:9" });
result.constructed = true;
const failure = await user.getAuthToken().catch((e) => e);
result.isPassageError = failure instanceof psg.PassageError;
result.message = failure.message;
result.asyncCodes = [
  failure.code,
  await outcome(user.authGuard()),
  await outcome(user.refresh()),
  await outcome(user.userInfo()),
  await outcome(user.signOut()),
];
result.syncCodes = [thrown(() => user.setAuthResult({})), thrown(() => user.onAuthStateChange(() => {}))];
window.cspResult = result;
