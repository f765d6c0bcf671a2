// The package entry: initialises the wasm once (top-level await, so no
// `init()` is asked of the app) and exposes PassageUser and PassageError.
import init, { Core, setErrorClass } from "./passage_user.js";

/** An error with a stable `code`; see the README for each code. */
export class PassageError extends Error {
  constructor(code, message, retryAfter) {
    super(message);
    this.name = "PassageError";
    this.code = code;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

await init({ module_or_path: new URL("./passage_user_bg.wasm", import.meta.url) });
setErrorClass(PassageError);

const EVENTS = ["SIGNED_IN", "TOKEN_REFRESHED", "SIGNED_OUT"];

/** The signed-in user's session: tokens, refresh and sign-out. */
export class PassageUser {
  #core;
  // The fresh token as an already-resolved promise, made once per token:
  // the hot path hands out this one object and allocates nothing.
  #fresh = undefined;
  #token = undefined;
  #freshUntil = 0;
  #listeners = new Set();

  constructor(options) {
    this.#core = new Core(options, {
      cache: (token, freshUntil) => {
        if (token !== this.#token) {
          this.#token = token;
          this.#fresh = token === undefined ? undefined : Promise.resolve(token);
        }
        this.#freshUntil = freshUntil;
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
    // The hot path: one comparison against what the core last published.
    if (Date.now() < this.#freshUntil) return this.#fresh;
    return this.#core.getAuthToken();
  }

  /** Forces a refresh (joining one in flight) and returns the new token. */
  refresh() {
    return this.#core.refresh();
  }

  /** Hands over the AuthResult of a login (its `onSuccess`). */
  setAuthResult(authResult) {
    this.#core.setAuthResult(authResult);
  }

  /** True when a well-formed, unexpired auth token is stored. */
  authGuard() {
    return this.#core.authGuard();
  }

  /** The current user, or undefined when signed out. */
  userInfo() {
    return this.#core.userInfo();
  }

  /** Signs out everywhere; true once the server confirmed the revocation. */
  signOut() {
    // Stop handing out the token this instant, before the core even runs.
    this.#freshUntil = 0;
    return this.#core.signOut();
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

export { EVENTS as AUTH_EVENTS };
