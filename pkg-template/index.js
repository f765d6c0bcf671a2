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
  #token = undefined;
  #freshUntil = 0;
  #listeners = new Set();

  constructor(options) {
    this.#core = new Core(options, {
      cache: (token, freshUntil) => {
        this.#token = token;
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
    if (Date.now() < this.#freshUntil) return Promise.resolve(this.#token);
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

export { EVENTS as AUTH_EVENTS };
