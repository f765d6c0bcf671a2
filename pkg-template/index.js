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
      request.headers.set("Authorization", `Bearer ${await this.getAuthToken()}`);
      const response = await send(request);
      if (response.status !== 401) return response;
      retry.headers.set("Authorization", `Bearer ${await this.refresh()}`);
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
    const request = instance.interceptors.request.use(async (config) => {
      let url;
      try {
        url = instance.getUri(config);
      } catch {
        return config; // axios will report the bad URL itself
      }
      return allowed.has(originOf(url)) ? authorize(config, await this.getAuthToken()) : config;
    });
    const response = instance.interceptors.response.use(undefined, async (error) => {
      const config = error?.config;
      if (error?.response?.status !== 401 || !config || !ours.has(config) || config.__psgRetried) throw error;
      config.__psgRetried = true;
      return instance.request(authorize(config, await this.refresh()));
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
