// The package entry: initialises the wasm once, as it loads (no `init()` is
// asked of the app), and exposes PassageUser and PassageError.
import { initSync, check, claim, lockTimeout, retry, status } from "./passage_user.js";
import { PassageError, fail } from "./errors.js";
import { Client } from "./client.js";
import { browserEnv, customStore, localStore, memoryStore } from "./browser.js";

export { PassageError };

const core = { check, claim, lockTimeout, retry, status };

const EVENTS = ["SIGNED_IN", "TOKEN_REFRESHED", "SIGNED_OUT"];

/**
 * Runs `fn` at the start of the next task (a MessageChannel message: not
 * throttled like timers in background tabs); undefined where there is none.
 */
const nextTask = (() => {
  if (typeof MessageChannel !== "function") return undefined;
  const channel = new MessageChannel();
  let queue = [];
  channel.port1.onmessage = () => {
    const due = queue;
    queue = [];
    for (const fn of due) fn();
  };
  // In Node, an open port would keep the process alive.
  channel.port1.unref?.();
  return (fn) => {
    if (queue.push(fn) === 1) channel.port2.postMessage(0);
  };
})();

/** The signed-in user's session: tokens, refresh and sign-out. */
export class PassageUser {
  #client;
  // The fresh token as an already-resolved promise, made once per token:
  // the hot path hands out this one object and allocates nothing.
  #fresh = undefined;
  #token = undefined;
  #freshUntil = 0;
  // True once Date.now() has shown the token fresh, with a second to spare,
  // in the current task: the task's later calls (microseconds apart) skip the
  // clock, which costs as much as the rest of the call on some machines.
  #taskFresh = false;
  #listeners = new Set();

  constructor(options) {
    const { appId, authOrigin, leewayMs, timeoutMs, cookie, tokenStore } = readOptions(options);
    const store =
      typeof tokenStore === "object"
        ? customStore(tokenStore, timeoutMs)
        : (tokenStore !== "memory" && localStore(cookie)) || memoryStore();
    this.#client = new Client(core, { appId, authOrigin, leewayMs, timeoutMs }, browserEnv(store), {
      cache: (token, freshUntil) => {
        if (token !== this.#token) {
          this.#token = token;
          this.#fresh = token === undefined ? undefined : Promise.resolve(token);
        }
        this.#freshUntil = freshUntil;
        this.#taskFresh = false;
      },
      emit: (event, detail) => {
        for (const listener of [...this.#listeners]) {
          try {
            listener(event, detail);
          } catch (error) {
            // A listener's bug must not break the session; report it the
            // way an unhandled error would be.
            queueMicrotask(() => {
              throw error;
            });
          }
        }
      },
    });
  }

  /** The auth token; refreshed first when it is stale. */
  getAuthToken() {
    // The hot path: a flag, or one comparison against what the client last
    // published.
    if (this.#taskFresh) return this.#fresh;
    const now = Date.now();
    if (now < this.#freshUntil) {
      if (nextTask && now < this.#freshUntil - 1000) {
        this.#taskFresh = true;
        nextTask(() => (this.#taskFresh = false));
      }
      return this.#fresh;
    }
    return this.#client.getAuthToken();
  }

  /** Forces a refresh (joining one in flight) and returns the new token. */
  refresh() {
    return this.#client.refresh();
  }

  /** Hands over the AuthResult of a login (its `onSuccess`). */
  setAuthResult(authResult) {
    this.#client.setAuthResult(authResult);
  }

  /** True when a well-formed, unexpired auth token is stored. */
  authGuard() {
    return this.#client.authGuard();
  }

  /** The current user, or undefined when signed out. */
  userInfo() {
    return this.#client.userInfo();
  }

  /** Signs out everywhere; true once the server confirmed the revocation. */
  signOut() {
    // Stop handing out the token this instant, before the client even runs.
    this.#freshUntil = 0;
    this.#taskFresh = false;
    return this.#client.signOut();
  }

  /**
   * A `fetch` that sends `Authorization: Bearer <token>` to the named API
   * origins only, and retries once after a forced refresh when the API
   * answers 401.
   */
  createFetch({ origins, fetch: send = globalThis.fetch.bind(globalThis) } = {}) {
    const allowed = apiOrigins(origins);
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
  }

  /**
   * Installs request and response interceptors on an axios instance: the
   * token goes only to the named API origins, and a 401 from them is retried
   * once after a forced refresh. Returns a function that removes them.
   */
  axiosInterceptor(instance, { origins } = {}) {
    const allowed = apiOrigins(origins);
    if (!instance?.interceptors?.request || typeof instance.request !== "function") {
      throw new PassageError("invalid_options", "axiosInterceptor needs an axios instance");
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
  }

  /** Calls `listener(event, detail)` on SIGNED_IN, TOKEN_REFRESHED and SIGNED_OUT. */
  onAuthStateChange(listener) {
    if (typeof listener !== "function") {
      throw new PassageError("invalid_options", "onAuthStateChange needs a function");
    }
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}

/** The exact origins (`scheme://host:port`) the app names as its APIs. */
function apiOrigins(origins) {
  if (!Array.isArray(origins) || origins.length === 0) {
    throw new PassageError("invalid_options", "name the API origins that may receive the token, e.g. { origins: [\"https://api.example.com\"] }");
  }
  return new Set(
    origins.map((o) => {
      // Absolute only: a relative "/api" would silently mean the page's origin.
      const origin = typeof o === "string" ? originOf(o, null) : undefined;
      if (!origin || origin === "null") throw new PassageError("invalid_options", "each API origin must be an absolute http(s) URL");
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

/** `obj[key]`, or undefined when reading it throws (a hostile getter or proxy). */
function get(obj, key) {
  try {
    return obj?.[key] ?? undefined;
  } catch {
    return undefined;
  }
}

const invalid = (message) => fail("invalid_options", message);

/** A property that is absent (undefined or null) or of `type`. */
function optional(options, key, type, message) {
  const value = get(options, key);
  if (value !== undefined && (typeof value !== type || (type === "number" && !Number.isFinite(value)))) throw invalid(message);
  return value;
}

const KNOWN = ["appId", "authOrigin", "tokenStore", "leeway", "timeoutInSeconds", "authTokenCookie"];
const STORE_METHODS = ["getAuthToken", "getRefreshToken", "setTokens", "clearTokens"];
const STORE_KINDS = 'tokenStore must be "localStorage", "memory" or a store object';

/** The constructor's options, validated; `options` may be undefined for all defaults. */
function readOptions(options) {
  if (options != null) {
    let keys;
    try {
      keys = typeof options === "object" || typeof options === "function" ? Object.keys(options) : undefined;
    } catch {}
    if (!keys) throw invalid("options must be an object");
    if (keys.some((k) => !KNOWN.includes(k))) {
      throw invalid(`unknown option: expected ${KNOWN.join(", ")}`);
    }
  }
  const appId = optional(options, "appId", "string", "appId must be a string");
  if (appId !== undefined && (appId === "" || appId.length > 256)) throw invalid("appId must be 1 to 256 characters");
  let authOrigin = optional(options, "authOrigin", "string", "authOrigin must be a string") ?? "https://auth.passage.id";
  // scheme://host[:port], with nothing after it but an optional slash.
  authOrigin = authOrigin.replace(/\/$/, "");
  if (!/^https?:\/\/[A-Za-z0-9.:[\]-]+$/.test(authOrigin)) {
    throw invalid("authOrigin must be an http(s) origin such as https://auth.passage.id");
  }
  const leeway = optional(options, "leeway", "number", "leeway must be a number of seconds");
  if (leeway !== undefined && !(leeway >= 0 && leeway <= 3600)) throw invalid("leeway must be between 0 and 3600 seconds");
  const timeout = optional(options, "timeoutInSeconds", "number", "timeoutInSeconds must be a number");
  if (timeout !== undefined && !(timeout >= 0.1 && timeout <= 300)) throw invalid("timeoutInSeconds must be between 0.1 and 300");
  const cookie = optional(options, "authTokenCookie", "boolean", "authTokenCookie must be a boolean") ?? true;
  let tokenStore = get(options, "tokenStore");
  if (typeof tokenStore === "object" && tokenStore !== null) {
    if (STORE_METHODS.some((m) => typeof get(tokenStore, m) !== "function")) {
      throw invalid(`a tokenStore object needs the methods ${STORE_METHODS.join(", ")}`);
    }
  } else if (tokenStore !== undefined && tokenStore !== "localStorage" && tokenStore !== "memory") {
    throw invalid(STORE_KINDS);
  }
  return {
    appId,
    authOrigin,
    leewayMs: leeway === undefined ? NaN : leeway * 1000,
    timeoutMs: Math.round((timeout ?? 10) * 1000),
    cookie,
    tokenStore,
  };
}

export { EVENTS as AUTH_EVENTS };

// The wasm travels inside this module, one character per byte XORed with 112
// (scripts/embed-wasm.mjs puts it in place of the placeholder): no request for
// it after the module has loaded, no asset for a bundler to handle, no
// top-level await. Compiled at once: it is 18 KB. Last in the module, where
// gzip compresses it best.
const wasm = "@@WASM@@";
const bytes = new Uint8Array(wasm.length);
// A plain loop: Uint8Array.from with a mapping function took 4 to 9 ms here.
for (let i = 0; i < wasm.length; i++) bytes[i] = wasm.charCodeAt(i) ^ 112;
initSync({ module: bytes });
