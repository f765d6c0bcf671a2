// The browser's side of the client's environment: stores, fetch, Web Locks,
// other tabs' signals and timers. Each piece only adapts; the decisions are
// the core's and the client's.
import { fail } from "./errors.js";
import { EMPTY, NO_LOCKS, TIMED_OUT, session } from "./client.js";

const AUTH_TOKEN = "psg_auth_token";
const REFRESH_TOKEN = "psg_refresh_token";
const REFRESH_EXPIRATION = "psg_refresh_token_expiration";
const PENDING_REVOCATION = "psg_pending_revocation";

const sleep = (ms) => new Promise((wake) => setTimeout(wake, ms));
const storageError = (message) => fail("storage", message);

/** The refresh tokens still to revoke, as stored: a JSON array of strings, else none. */
function pendingFrom(text) {
  try {
    const tokens = JSON.parse(text);
    return Array.isArray(tokens) ? tokens.filter((t) => typeof t === "string" && t && t.length <= 4096).slice(0, 16) : [];
  } catch {
    return [];
  }
}

/**
 * `localStorage` under passage-js's keys, optionally mirroring the auth
 * token into the `psg_auth_token` cookie; undefined where it is missing or
 * refuses access (Safari private mode, sandboxed frames, SSR).
 */
export function localStore(cookie) {
  let storage;
  try {
    storage = globalThis.localStorage;
    if (!storage) return undefined;
  } catch {
    return undefined;
  }
  const clear = (mirror = cookie) => {
    let ok = true;
    for (const key of [AUTH_TOKEN, REFRESH_TOKEN, REFRESH_EXPIRATION]) {
      try {
        storage.removeItem(key);
      } catch {
        ok = false;
      }
    }
    if (mirror) setCookie();
    if (!ok) throw storageError("localStorage refused to clear the session");
  };
  const write = (s) => {
    try {
      // The refresh token first: a reader that sees the new auth token must
      // never pair it with the refresh token it replaced.
      for (const [key, value] of [
        [REFRESH_TOKEN, s.r],
        [REFRESH_EXPIRATION, s.e],
        [AUTH_TOKEN, s.a],
      ]) {
        if (value === undefined) storage.removeItem(key);
        else storage.setItem(key, String(value));
      }
    } catch {
      throw storageError("localStorage refused a write (full or disabled)");
    }
  };
  return {
    sync: true,
    load() {
      let values;
      try {
        values = [AUTH_TOKEN, REFRESH_TOKEN, REFRESH_EXPIRATION].map((k) => storage.getItem(k));
      } catch {
        throw storageError("localStorage refused a read");
      }
      return session(...values);
    },
    save(s) {
      if (s.a === undefined && s.r === undefined) return clear();
      let error;
      try {
        write(s);
      } catch {
        // Full: our own keys may be what fills it. Never leave a refresh
        // token that this session has rotated away where another tab could
        // reuse it: clear, and try once more.
        try {
          clear(false);
        } catch {}
        try {
          write(s);
        } catch (e) {
          error = e;
          try {
            clear(false);
          } catch {}
        }
      }
      if (cookie) setCookie(error ? undefined : s.a);
      if (error) throw error;
    },
    clear,
    pending() {
      try {
        return pendingFrom(storage.getItem(PENDING_REVOCATION));
      } catch {
        return [];
      }
    },
    setPending(tokens) {
      try {
        if (tokens.length) storage.setItem(PENDING_REVOCATION, JSON.stringify(tokens));
        else storage.removeItem(PENDING_REVOCATION);
      } catch {
        // Not kept: the revocation is still tried now.
      }
    },
  };
}

/** Mirrors the auth token into the `psg_auth_token` cookie, or deletes it. */
function setCookie(token) {
  if (typeof document !== "object") return;
  const { protocol, hostname } = globalThis.location ?? {};
  const plainLocalhost = protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(hostname);
  try {
    document.cookie = `psg_auth_token=${token ?? "; Max-Age=0"}; Path=/; SameSite=Lax${plainLocalhost ? "" : "; Secure"}`;
  } catch {
    // A sandboxed document without cookies.
  }
}

/** A store kept in memory. */
export function memoryStore() {
  let kept = EMPTY;
  let pending = [];
  return {
    sync: true,
    load: () => kept,
    save: (s) => void (kept = s),
    clear: () => void (kept = EMPTY),
    pending: () => pending,
    setPending: (tokens) => void (pending = tokens),
  };
}

/**
 * An app's object with passage-js's TokenStore methods, each sync or async,
 * each given at most `timeoutMs`.
 */
export function customStore(object, timeoutMs) {
  // For stores without getRefreshTokenExpiration.
  let expiration;
  let pending = [];
  const call = async (name, arg) => {
    let out;
    try {
      out = object[name](arg);
    } catch {
      throw storageError("the token store threw");
    }
    let then;
    try {
      then = out?.then;
    } catch {}
    if (typeof then !== "function") return out;
    let timer;
    try {
      return await Promise.race([
        out,
        new Promise((_, late) => {
          timer = setTimeout(late, timeoutMs);
        }),
      ]);
    } catch {
      throw storageError("the token store failed or did not answer in time");
    } finally {
      clearTimeout(timer);
    }
  };
  const clear = async () => {
    expiration = undefined;
    await call("clearTokens");
  };
  return {
    sync: false,
    async load() {
      const a = await call("getAuthToken");
      const r = await call("getRefreshToken");
      let e = expiration;
      let has;
      try {
        has = typeof object.getRefreshTokenExpiration === "function";
      } catch {}
      if (has) {
        const v = await call("getRefreshTokenExpiration");
        // Numbers and decimal strings both; the core reads what it can.
        e = typeof v === "number" ? String(v) : v;
      }
      return session(a, r, e);
    },
    async save(s) {
      if (s.a === undefined && s.r === undefined) return clear();
      await call("setTokens", {
        authToken: s.a,
        redirectUrl: "/",
        refreshToken: s.r,
        refreshTokenExpiration: s.e && +s.e,
      });
      expiration = s.e;
    },
    clear,
    // The store's shape has no place for them.
    pending: () => pending,
    setPending: (tokens) => void (pending = tokens),
  };
}

/**
 * One request to the auth server within `timeoutMs`: resolves the status,
 * a numeric `Retry-After` and, for a success, the body parsed as JSON
 * (undefined when it is not JSON); rejects 0 (network) or 1 (timeout).
 */
async function send({ method, url, body, bearer, keepalive = false, timeoutMs }) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const headers = {};
  if (body) headers["Content-Type"] = "application/json";
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  try {
    const response = await fetch(url, {
      method,
      headers,
      body: body && JSON.stringify(body),
      keepalive,
      signal: controller.signal,
    });
    const wait = /^\s*(\d{1,9})\s*$/.exec(response.headers.get("Retry-After") ?? "");
    let json;
    if (response.ok) {
      // A body that fails mid-way is a network failure; one that is not
      // JSON is the client's to judge, as undefined.
      const text = await response.text();
      try {
        json = JSON.parse(text);
      } catch {}
    }
    return { status: response.status, retryAfter: wait ? +wait[1] : undefined, body: json };
  } catch {
    throw controller.signal.aborted ? 1 : 0;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The cross-tab lock `name` (Web Locks). With a timeout, waits at most that
 * long for another holder; with 0, takes it only if free. Resolves
 * `{ release, waited }`, TIMED_OUT (not granted) or NO_LOCKS.
 */
async function lock(name, timeoutMs) {
  const locks = globalThis.navigator?.locks;
  if (typeof locks?.request !== "function") return NO_LOCKS;
  // First without waiting: whether someone else holds it tells a waiter to
  // look for that holder's result before refreshing itself.
  const free = await request(locks, name, { ifAvailable: true });
  if (free !== TIMED_OUT || !timeoutMs) return free;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const granted = await request(locks, name, { signal: controller.signal });
  clearTimeout(timer);
  if (granted === NO_LOCKS) return TIMED_OUT;
  if (granted !== TIMED_OUT) granted.waited = true;
  return granted;
}

/** One `navigator.locks.request`, held until `release()` is called. */
function request(locks, name, options) {
  return new Promise((answer) => {
    let done;
    const held = new Promise((resolve) => (done = resolve));
    let asked;
    try {
      asked = locks.request(name, options, (granted) => {
        // A null lock (ifAvailable, taken) holds nothing.
        if (!granted) return answer(TIMED_OUT);
        answer({
          // Resolves once another holder could take it.
          release: () => (done(), asked.catch(() => {})),
          waited: false,
        });
        return held;
      });
    } catch {
      return answer(NO_LOCKS);
    }
    // An aborted wait rejects the request.
    asked.catch(() => answer(options.signal ? TIMED_OUT : NO_LOCKS));
  });
}

/** The channel every client of the origin shares. */
const CHANNEL = "psg_session";

/** The client's environment in this browser, with `store`. */
export function browserEnv(store) {
  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : undefined;
  return {
    store,
    now: Date.now,
    random: Math.random,
    sleep,
    send,
    lock,
    post: (signal) => channel?.postMessage(signal),
    /**
     * Calls `onSignal` with "stored" (another tab's write to the session
     * keys, now readable here), "changed" (another tab says it changed the
     * session; a page shown again may have missed events too), "unchanged"
     * (another tab released the refresh lock without a change) or "online".
     */
    listen(onSignal) {
      if (channel) {
        channel.onmessage = ({ data }) => {
          if (data === "changed" || data === "unchanged") onSignal(data);
        };
      }
      if (typeof addEventListener !== "function") return;
      addEventListener("storage", ({ key }) => {
        if (key === null || (key.startsWith("psg_") && key !== PENDING_REVOCATION)) onSignal("stored");
      });
      for (const event of ["pageshow", "visibilitychange"]) addEventListener(event, () => onSignal("changed"));
      addEventListener("online", () => onSignal("online"));
    },
  };
}
