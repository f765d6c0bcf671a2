// The package entry. PassageUser is the Rust client (the wasm below, compiled
// once as this module loads: no `init()` is asked of the app); this file adds
// only the PassageError class and the fetch and axios helpers, which match
// origins and retry once on 401 through getAuthToken() and refresh().
import { initSync, PassageUser as RustUser } from "./passage_user.js";
import { PassageError } from "./errors.js";

export { PassageError };

/** The names of the auth events. */
export const AUTH_EVENTS = ["SIGNED_IN", "TOKEN_REFRESHED", "SIGNED_OUT"];

const invalid = (message) => new PassageError("invalid_options", message);

/** The exact origins (`scheme://host:port`) the app names as its APIs. */
function apiOrigins(origins) {
  if (!Array.isArray(origins) || origins.length === 0) {
    throw invalid('name the API origins that may receive the token, e.g. { origins: ["https://api.example.com"] }');
  }
  return new Set(
    origins.map((o) => {
      // Absolute only: a relative "/api" would silently mean the page's origin.
      const origin = typeof o === "string" ? originOf(o, null) : undefined;
      if (!origin || origin === "null") throw invalid("each API origin must be an absolute http(s) URL");
      return origin;
    }),
  );
}

/** The origin of `url` (relative to `base`, by default the page), or undefined when it is not an http(s) URL. */
function originOf(url, base = globalThis.location?.href) {
  try {
    const parsed = base == null ? new URL(url) : new URL(url, base);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

/** Settles as `promise`, or rejects with `signal`'s reason once it aborts. */
function within(promise, signal) {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  let stop;
  const aborted = new Promise((_, fail) => {
    stop = () => signal.removeEventListener("abort", onAbort);
    const onAbort = () => fail(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(stop);
}

/** The reason of a wait that outlasted axios's `timeout`. */
const TIMED_OUT = Symbol("timeout");

/**
 * What ends an axios request's wait for its token: its `signal`, its
 * `cancelToken`, or its `timeout`.
 */
function waitFor({ signal, cancelToken, timeout }) {
  const controller = new AbortController();
  const abort = (reason) => controller.abort(reason);
  const onAbort = () => abort(signal.reason);
  if (signal?.aborted) abort(signal.reason);
  signal?.addEventListener?.("abort", onAbort, { once: true });
  cancelToken?.promise?.then(abort, () => {});
  const timer = timeout > 0 ? setTimeout(abort, timeout, TIMED_OUT) : undefined;
  return {
    signal: controller.signal,
    done() {
      clearTimeout(timer);
      signal?.removeEventListener?.("abort", onAbort);
    },
  };
}

/** axios's own timeout error, in the shape `axios.isAxiosError` knows. */
function axiosTimeout(config) {
  const error = new Error(`timeout of ${config.timeout}ms exceeded`);
  return Object.assign(error, { name: "AxiosError", code: "ECONNABORTED", config, isAxiosError: true });
}

const helpers = {
  /**
   * A `fetch` that sends `Authorization: Bearer <token>` to the named API
   * origins only, and retries once after a forced refresh when the API
   * answers 401. Without a `fetch` of its own, it calls the global one at
   * each request (so instrumentation installed later sees it).
   */
  createFetch({ origins, fetch } = {}) {
    const allowed = apiOrigins(origins);
    const send = (request) => (fetch ?? globalThis.fetch)(request);
    return async (input, init) => {
      const request = new Request(input, init);
      if (!allowed.has(originOf(request.url))) return send(request);
      // A body can be read once: keep a copy for the retry.
      const retry = request.clone();
      // The request's signal also cancels the wait for its token, with the
      // signal's reason (an AbortError), as fetch itself would.
      const options = { signal: request.signal };
      request.headers.set("Authorization", `Bearer ${await this.getAuthToken(options)}`);
      const response = await send(request);
      if (response.status !== 401) return response;
      retry.headers.set("Authorization", `Bearer ${await within(this.refresh(), request.signal)}`);
      return send(retry);
    };
  },

  /**
   * Installs request and response interceptors on an axios instance: the
   * token goes only to the named API origins, and a 401 from them is retried
   * once after a forced refresh. Returns a function that removes them.
   */
  axiosInterceptor(instance, { origins } = {}) {
    const allowed = apiOrigins(origins);
    if (!instance?.interceptors?.request || typeof instance.request !== "function") {
      throw invalid("axiosInterceptor needs an axios instance");
    }
    const ours = new WeakSet();
    const authorize = (config, token) => {
      config.headers ??= {};
      if (typeof config.headers.set === "function") config.headers.set("Authorization", `Bearer ${token}`);
      else config.headers.Authorization = `Bearer ${token}`;
      ours.add(config);
      return config;
    };
    // The token, or `config` as it is when the request was cancelled while
    // waiting (axios then rejects it with its CanceledError, unsent).
    const withToken = async (config, get) => {
      const wait = waitFor(config);
      try {
        return authorize(config, await get({ signal: wait.signal }));
      } catch (e) {
        if (!wait.signal.aborted) throw e;
        if (wait.signal.reason === TIMED_OUT) throw axiosTimeout(config);
        return config;
      } finally {
        wait.done();
      }
    };
    const request = instance.interceptors.request.use(async (config) => {
      let url;
      try {
        url = instance.getUri(config);
      } catch {
        return config; // axios will report the bad URL itself
      }
      return allowed.has(originOf(url)) ? withToken(config, (options) => this.getAuthToken(options)) : config;
    });
    const response = instance.interceptors.response.use(undefined, async (error) => {
      const config = error?.config;
      if (error?.response?.status !== 401 || !config || !ours.has(config) || config.__psgRetried) throw error;
      config.__psgRetried = true;
      return instance.request(await withToken(config, ({ signal }) => within(this.refresh(), signal)));
    });
    return () => {
      instance.interceptors.request.eject(request);
      instance.interceptors.response.eject(response);
    };
  },
};

/**
 * Where the wasm cannot be compiled (a Content-Security-Policy without
 * 'wasm-unsafe-eval'), importing the package still works: every method
 * rejects, or for a synchronous one throws, this error.
 */
const unsupported = () =>
  new PassageError(
    "unsupported",
    "WebAssembly cannot be compiled on this page: allow 'wasm-unsafe-eval' in the Content-Security-Policy's script-src",
  );

class UnsupportedUser {
  dispose() {}
}
const ASYNC = ["getAuthToken", "refresh", "authGuard", "userInfo", "signOut", "changeEmail", "changePhone", "passkeys"];
ASYNC.push("editPasskey", "addPasskey", "deletePasskey", "listSocialConnections", "deleteSocialConnection", "metadata", "updateMetadata");
for (const name of ASYNC) {
  UnsupportedUser.prototype[name] = () => Promise.reject(unsupported());
}
for (const name of ["setAuthResult", "onAuthStateChange"]) {
  UnsupportedUser.prototype[name] = () => {
    throw unsupported();
  };
}

// The wasm travels inside this module, one character per byte XORed with 112
// (scripts/embed-wasm.mjs puts it in place of the placeholder): no request for
// it after the module has loaded, no asset for a bundler to handle, no
// top-level await. Last in the module, where gzip compresses it best.
const wasm = "@@WASM@@";
let compiled = false;
try {
  const bytes = new Uint8Array(wasm.length);
  // A plain loop: Uint8Array.from with a mapping function took 4 to 9 ms here.
  for (let i = 0; i < wasm.length; i++) bytes[i] = wasm.charCodeAt(i) ^ 112;
  initSync({ module: bytes });
  compiled = true;
} catch {
  // Reported by every method of PassageUser instead: importing must not throw.
}

/** The signed-in user's session. */
export const PassageUser = compiled ? RustUser : UnsupportedUser;
Object.assign(PassageUser.prototype, helpers);
// wasm-bindgen's free() releases the Rust object at once, and a later call,
// or one from inside a listener, would fail with a plain Error. Here free()
// and `using` (Symbol.dispose) mean dispose(): the instance keeps working,
// and its memory goes with the garbage collector (a FinalizationRegistry).
PassageUser.prototype.free = PassageUser.prototype.dispose;
if (Symbol.dispose) PassageUser.prototype[Symbol.dispose] = PassageUser.prototype.dispose;
