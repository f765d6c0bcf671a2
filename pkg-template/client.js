// The session client: sequences the core's decisions (the wasm `Core`) with
// the environment's input and output: the store, requests, the cross-tab
// lock, other tabs' signals, the clock. The environment is a parameter, so
// the same code runs in the browser (./browser.js) and in the simulation of
// tabs, server and clock that the tests drive (tests/sim/).
import { decide, fail, noSession } from "./errors.js";

/** A session as stored: auth token, refresh token, end (unix seconds, as stored: a decimal string). */
export const EMPTY = { a: undefined, r: undefined, e: undefined };

/** The longest refresh token accepted; Passage's are 50-odd characters. */
const MAX_REFRESH_TOKEN = 4096;

/** A session from stored values: anything but a non-empty string is absent. */
export function session(a, r, e) {
  const text = (v) => (typeof v === "string" && v !== "" ? v : undefined);
  r = text(r);
  return { a: text(a), r: r?.length <= MAX_REFRESH_TOKEN ? r : undefined, e: text(e) };
}

const isEmpty = (s) => s.a === undefined && s.r === undefined;
const same = (x, y) => x.a === y.a && x.r === y.r && x.e === y.e;

// Core.status() answers a fresh token's end (a positive time), or one of these.
const NEEDS_REFRESH = -1;
const ENDED = -2;
// Core.retry() answers a wait in ms, or this.
const REFUSED = -1;

/**
 * How long a tab that was granted the refresh lock after another holder
 * waits for that holder's write to become visible before deciding alone.
 */
export const SETTLE_MS = 500;
/**
 * How long a tab that wrote new tokens keeps the refresh lock, so that the
 * next holder's copy of storage has them (Chromium delivers a write to
 * other tabs a few ms late).
 */
export const LINGER_MS = 100;
/** Pending revocations kept at most: each is retried on every page load. */
const MAX_PENDING = 16;

/** What `lock()` answers when the lock was not granted in time. */
export const TIMED_OUT = "timed_out";
/** What `lock()` answers where there are no Web Locks: go on alone. */
export const NO_LOCKS = "none";

const loginRequired = (message) => fail("login_required", message);

/**
 * The client behind one PassageUser.
 *
 * `core`: the wasm's exports. `options`: { appId, authOrigin, leewayMs,
 * timeoutMs } (validated; leewayMs NaN for the default). `env`: { store, now(), random(), sleep(ms), send(request), lock(name,
 * timeoutMs | 0), post(signal), listen(onSignal) }; see ./browser.js.
 * `hooks`: { cache(token, freshUntil), emit(event, detail) }.
 */
export class Client {
  #core;
  #env;
  #store;
  #hooks;
  #appId;
  #origin;
  #timeout;
  #leeway;
  /** Server clock minus local clock, ms. */
  #skew = 0;
  /** The session as last read or written. */
  #s = EMPTY;
  /** The refresh in flight in this tab, shared by every caller. */
  #flight;
  /**
   * Bumped whenever the session is replaced from outside a refresh
   * (sign-in, sign-out), so a refresh that started before cannot write over
   * the new session.
   */
  #epoch = 0;
  /** The store refused the last write: memory holds the truth until one succeeds. */
  #unsaved = false;
  /** Held locks: events wait in #events until none is held, so no listener runs under a lock. */
  #locked = 0;
  #events = [];
  /** Counts the signals that another tab's refresh is settled (a write readable here, or "unchanged"). */
  #settled = 0;
  #wakers = [];
  /** Set while this tab signs out: the user it signs out. */
  #leaving;
  /** The refresh lock, kept for a moment after this tab wrote new tokens. */
  #lingering;
  #lingerId = 0;

  constructor(core, { appId, authOrigin, leewayMs, timeoutMs }, env, hooks) {
    this.#core = core;
    this.#env = env;
    this.#store = env.store;
    this.#hooks = hooks;
    this.#appId = appId;
    this.#origin = authOrigin;
    this.#timeout = timeoutMs;
    this.#leeway = leewayMs;
    if (this.#store.sync) {
      try {
        this.#s = this.#store.load();
        this.#publish();
      } catch {
        // An unreadable store is empty until a read succeeds.
      }
    }
    env.listen((signal) => this.#onSignal(signal));
    this.#retryPending();
  }

  #appUrl(s) {
    const id = this.#appId ?? (s.a && this.#core.claim(s.a, "app"));
    if (!id) throw fail("invalid_options", "appId is unknown: pass it in the options");
    return `${this.#origin}/v1/apps/${encodeURIComponent(id)}`;
  }

  #status(s, guard = false) {
    return this.#core.status(s.a ?? "", s.r ?? "", s.e ?? "", this.#env.now(), this.#skew, this.#leeway, guard);
  }

  /** Tells the entry what it may hand out without calling in. */
  #publish() {
    const until = this.#status(this.#s);
    if (until > 0) this.#hooks.cache(this.#s.a, until);
    else this.#hooks.cache(undefined, 0);
  }

  /** Queues an auth event, and delivers the queue unless a lock is held. */
  #emit(event, reason) {
    this.#events.push([event, reason]);
    if (!this.#locked) this.#flush();
  }

  #flush() {
    while (this.#events.length) {
      const [event, reason] = this.#events.shift();
      const detail = {};
      if (reason) detail.reason = reason;
      const exp = this.#s.a && this.#core.claim(this.#s.a, "exp");
      if (exp) detail.expiresAt = +exp;
      this.#hooks.emit(event, detail);
    }
  }

  /**
   * Makes `stored` (read from the store) the session, and fires the event
   * its difference from memory means: another tab did it.
   */
  #adopt(stored) {
    const old = this.#s;
    if (same(old, stored)) return stored;
    // While this tab signs out, a write of the same user's session is a
    // refresh that was in flight elsewhere landing after our clear: not a
    // session to adopt (signOut clears it again under the lock).
    if (this.#leaving && stored.r && this.#leavingUser(stored, this.#leaving)) return old;
    this.#s = stored;
    this.#publish();
    // Another tab signed in or out, or wrote new tokens: a refresh in flight
    // here must not write over that.
    if (stored.r !== old.r) this.#epoch++;
    if (isEmpty(stored)) {
      if (!isEmpty(old)) this.#emit("SIGNED_OUT", "other_tab");
    } else if (stored.a !== undefined && stored.a !== old.a) {
      // Another tab's write reaches this one key by key (the refresh token
      // first, the auth token last; a clear the other way round): a state
      // without a new auth token is partway, and fires nothing.
      this.#emit(isEmpty(old) || this.#sub(old) !== this.#sub(stored) ? "SIGNED_IN" : "TOKEN_REFRESHED");
    }
    return stored;
  }

  #sub(s) {
    return s.a && this.#core.claim(s.a, "sub");
  }

  /**
   * Whether `s` may be the user now signing out: the same `sub`, or none
   * yet (a write reaches this tab key by key, its auth token last).
   */
  #leavingUser(s, leaving) {
    const sub = this.#sub(s);
    return !sub || sub === leaving.sub;
  }

  /**
   * Reads the store into memory, unless memory holds a session the store
   * refused, in which case writing it again comes first. Synchronous for a
   * synchronous store (localStorage, memory), so that a caller can act
   * before anything else runs.
   */
  #reload() {
    if (!this.#store.sync) return this.#reloadAsync();
    if (this.#unsaved) {
      try {
        this.#store.save(this.#s);
      } catch {
        return this.#s;
      }
      this.#unsaved = false;
    }
    return this.#adopt(this.#store.load());
  }

  async #reloadAsync() {
    if (this.#unsaved) {
      try {
        await this.#store.save(this.#s);
      } catch {
        return this.#s;
      }
      this.#unsaved = false;
    }
    return this.#adopt(await this.#store.load());
  }

  /** Another tab wrote the session or finished a refresh; or the browser is back online. */
  #onSignal(signal) {
    if (signal === "online") return void this.#retryPending();
    if (signal !== "changed") {
      this.#settled++;
      for (const wake of this.#wakers.splice(0)) wake();
    }
    if (signal === "unchanged" || this.#unsaved) return;
    if (!this.#store.sync) return void this.#reload().catch(() => {});
    // localStorage reads synchronously: the cache is right before this
    // handler returns, so no stale token is handed out meanwhile.
    try {
      this.#adopt(this.#store.load());
    } catch {
      // Unreadable now: the next call reads again.
    }
  }

  /** Waits for the next settled signal, at most `ms`. */
  #nextSettled(ms) {
    return new Promise((wake) => {
      this.#wakers.push(wake);
      this.#env.sleep(ms).then(wake);
    });
  }

  /**
   * Makes `next` the session: memory first, then the store. A store that
   * refuses keeps memory authoritative and reports `storage`.
   */
  async #commit(next) {
    this.#s = next;
    this.#publish();
    this.#unsaved = true;
    await this.#store.save(next);
    this.#unsaved = false;
  }

  /**
   * Checks AuthResult fields (a login's, or a refresh reply's) with the
   * core; answers the clock offset their token implies (NaN: keep ours).
   */
  #check(raw, r, refreshed) {
    return decide(() => this.#core.check(raw.a, r, raw.e, this.#env.now(), refreshed));
  }

  setAuthResult(result) {
    const raw = readAuthResult(result);
    if (!raw) throw fail("invalid_auth_result", "expected an AuthResult object with string auth_token (or authToken)");
    const skew = this.#check(raw, raw.r, false);
    if (skew === skew) this.#skew = skew;
    const next = session(raw.a, raw.r, seconds(raw.e));
    this.#epoch++;
    // A sign-in here ends a sign-out in progress: its session stays.
    this.#leaving = undefined;
    const previous = this.#s;
    this.#s = next;
    let saved = false;
    if (this.#store.sync) {
      try {
        this.#store.save(next);
        saved = true;
      } catch {
        // Kept in memory; written again on the next read.
      }
    }
    this.#unsaved = !saved;
    this.#publish();
    // `reload` writes an unsaved session first, and keeps it in memory
    // while the store refuses it.
    if (!saved) Promise.resolve().then(() => this.#reload()).catch(() => {});
    if (previous.r && next.r !== previous.r) {
      try {
        const url = this.#appUrl(previous);
        this.#revoke(url, previous.r, false);
      } catch {
        // No app id: nowhere to revoke it.
      }
    }
    this.#env.post("changed");
    this.#emit("SIGNED_IN");
  }

  async authGuard() {
    const s = await this.#reload();
    return this.#status(s, true) === 1;
  }

  async getAuthToken() {
    const s = await this.#reload();
    return (await this.#settle(s)) ?? this.refresh(false);
  }

  /**
   * The outcome of a session that needs no request: its fresh token,
   * undefined when it needs a refresh, or the error that ends it.
   */
  async #settle(s) {
    const status = this.#status(s);
    if (status > 0) return s.a;
    if (status === NEEDS_REFRESH) return undefined;
    if (status === ENDED) {
      await this.#end("expired");
      throw loginRequired("the session has expired: sign in again");
    }
    if (!isEmpty(s)) await this.#end("expired");
    throw noSession();
  }

  /** Runs one refresh for this tab, or joins the one in flight. */
  refresh(force = true) {
    return (this.#flight ??= this.#lockedRefresh(force).finally(() => {
      this.#flight = undefined;
    }));
  }

  /**
   * The leader's refresh under the cross-tab lock. The callers get their
   * token at once; the lock is kept a little longer when this tab wrote new
   * tokens, so that the next holder reads them, and events are delivered
   * once it is released.
   */
  async #lockedRefresh(force) {
    // What storage holds before waiting: under the lock, a difference means
    // another tab acted meanwhile.
    const started = await this.#reload();
    const settledBefore = this.#settled;
    const name = this.#lockName(started);
    let release;
    let waited = false;
    const kept = this.#lingering;
    if (kept?.name === name) {
      // This tab's own lock, still kept after its last write: take it over
      // rather than wait for it (and for a signal only another tab sends).
      this.#lingering = undefined;
      release = kept.release;
    } else {
      const got = await this.#waitLock(name);
      // A frozen or hung holder: go on, as a browser without locks would.
      if (got === TIMED_OUT) waited = true;
      else if (got !== NO_LOCKS) ({ release, waited } = got);
    }
    const outcome = { wrote: false };
    let token;
    let error;
    try {
      token = await this.#refreshHoldingLock(started, force, waited, settledBefore, outcome);
    } catch (e) {
      error = e;
    }
    this.#env.post(outcome.wrote ? "changed" : "unchanged");
    if (release && outcome.wrote) {
      const id = ++this.#lingerId;
      this.#lingering = { id, name, release };
      this.#env.sleep(LINGER_MS).then(() => {
        // Unless a later refresh of this tab took it over.
        if (this.#lingering?.id !== id) return;
        this.#lingering = undefined;
        this.#release(release);
      });
    } else {
      this.#release(release);
    }
    if (error) throw error;
    return token;
  }

  /**
   * Waits for the refresh lock `name`, and counts it held (events wait
   * until #release). A wait that timed out while other tabs took and
   * released the lock (each release is a settled signal) is a queue,
   * moving, and goes on; one with no release at all answers TIMED_OUT: a
   * frozen or hung holder.
   */
  async #waitLock(name) {
    let got, seen;
    do {
      seen = this.#settled;
      got = await this.#env.lock(name, this.#core.lockTimeout(this.#timeout));
    } while (got === TIMED_OUT && this.#settled !== seen);
    this.#locked++;
    return got;
  }

  /** The refresh lock: one refresh at a time per auth server and app, across the tabs of the origin. */
  #lockName(s) {
    try {
      return `psg_refresh ${this.#appUrl(s)}`;
    } catch {
      return `psg_refresh ${this.#origin}`;
    }
  }

  /** Lets the refresh lock go; then, with no lock held, the listeners run. */
  async #release(release) {
    if (release) await release();
    this.#locked--;
    this.#flush();
  }

  /**
   * Refreshes unless storage, read under the lock, makes it needless; sets
   * `outcome.wrote` when this tab wrote new tokens.
   */
  async #refreshHoldingLock(started, force, waited, settledBefore, outcome) {
    let s = await this.#reload();
    const adopt = (s) => s.r !== started.r || s.a !== started.a;
    // Another tab held the lock, and what it wrote may reach this tab's
    // storage a few ms after the grant: refreshing now with the old token
    // would be the reuse the server punishes. Wait briefly for its write
    // (or its word that it wrote nothing).
    if (waited && !adopt(s) && this.#settled === settledBefore) {
      await this.#nextSettled(SETTLE_MS);
      s = await this.#reload();
    }
    const underLock = s.r;
    try {
      return await this.#runRefresh(s, force && !adopt(s));
    } finally {
      outcome.wrote = this.#s.r !== underLock;
    }
  }

  /** Decide from `s`, send, retry transient failures, store the result. */
  async #runRefresh(s, force) {
    for (let adopted = 0; ; ) {
      const epoch = this.#epoch;
      if (!(force && adopted === 0) || this.#status(s) === ENDED) {
        const token = await this.#settle(s);
        if (token !== undefined) return token;
      }
      const used = s.r;
      if (!used) throw noSession();
      const url = this.#appUrl(s);
      const raw = await this.#sendRefresh(url, used);
      if (raw === REFUSED) {
        const stored = await this.#reload();
        // Another tab rotated the token first: storage holds its successor.
        if (adopted < 2 && stored.r && stored.r !== used) {
          s = stored;
          adopted++;
          continue;
        }
        await this.#end("refresh_refused");
        throw loginRequired("the refresh token was refused: sign in again");
      }
      // A reply without a refresh token (a server that does not rotate)
      // keeps the one used; one without an end keeps the stored end.
      const r = raw.r ?? used;
      const skew = this.#check(raw, r, true);
      if (this.#epoch !== epoch) {
        // Signed in or out meanwhile: that session wins.
        s = await this.#reload();
        adopted++;
        continue;
      }
      if (skew === skew) this.#skew = skew;
      const next = session(raw.a, r, seconds(raw.e) ?? s.e);
      await this.#commit(next);
      this.#emit("TOKEN_REFRESHED");
      return next.a;
    }
  }

  /**
   * One request to the auth server. A failure answers as the core's failure
   * kinds do: status 0 (network) or 1 (timeout); 2 is a malformed body.
   */
  async #call(request) {
    try {
      return await this.#env.send({ ...request, timeoutMs: this.#timeout });
    } catch (kind) {
      return { status: kind === 1 ? 1 : 0 };
    }
  }

  /** `POST /tokens` with retries: the reply's AuthResult fields, or REFUSED. */
  async #sendRefresh(url, token) {
    for (let attempt = 1; ; attempt++) {
      let { status, retryAfter, body } = await this.#call({
        method: "POST",
        url: `${url}/tokens`,
        body: { refresh_token: token },
      });
      if (status === 200 || status === 201) {
        const raw = readAuthResult(body?.auth_result);
        if (raw) return raw;
        status = 2;
      }
      const wait = decide(() => this.#core.retry(attempt, status, retryAfter ?? NaN, this.#env.random()));
      if (wait === REFUSED) return REFUSED;
      await this.#env.sleep(wait);
    }
  }

  async signOut() {
    // The latest stored session: another tab may have rotated the token.
    // Before the first await, for a synchronous store: nothing hands out
    // the token once signOut() has returned.
    let s;
    try {
      s = this.#reload();
      if (!this.#store.sync) s = await s;
    } catch {
      s = this.#s;
    }
    let url;
    try {
      url = this.#appUrl(s);
    } catch {
      // No app id: nothing to revoke.
    }
    // Kept apart from the session, never used to refresh, until the server
    // confirms; so a closed tab or a network blip loses no revocation.
    if (s.r) this.#addPending(s.r);
    if (isEmpty(s)) {
      // Nothing here, but a refresh of this tab may be in flight: its
      // result must not bring a session back.
      this.#epoch++;
      this.#publish();
      return true;
    }
    const leaving = (this.#leaving = { sub: this.#sub(s) });
    await this.#end("sign_out");
    // A refresh in flight in another tab may write the session back after
    // our clear (its reply crossing our sign-out). Its tab holds the refresh
    // lock until that write has reached the other tabs: once we hold the
    // lock, clear what it wrote and revoke that token too. Holding the lock
    // through the revocation keeps a tab that has not seen our clear yet
    // from refreshing with a token we are about to revoke.
    const settledBefore = this.#settled;
    const got = await this.#waitLock(this.#lockName(s));
    // As for a refresh granted the lock after another holder: its write may
    // reach this tab a little after the grant.
    if (got.waited && this.#settled === settledBefore) await this.#nextSettled(SETTLE_MS);
    const tokens = s.r ? [s.r] : [];
    try {
      const stored = this.#store.load();
      const back = this.#store.sync ? stored : await stored;
      // (Unless this tab signed in again meanwhile: that session stays.)
      if (this.#leaving === leaving && back.r && this.#leavingUser(back, leaving)) {
        this.#addPending(back.r);
        tokens.push(back.r);
        await this.#store.clear();
        this.#env.post("changed");
      }
    } catch {
      // An unreadable store holds nothing we could clear.
    }
    // From here, with the lock ours, no refresh can write: a session of this
    // user that appears now is a new sign-in.
    if (this.#leaving === leaving) this.#leaving = undefined;
    let confirmed = true;
    for (const token of tokens) if (!(url && (await this.#revoke(url, token)))) confirmed = false;
    // Our clear is a write like a refresh's: the lock is kept until it has
    // reached the other tabs, so none refreshes with the token we cleared.
    // (TIMED_OUT and NO_LOCKS hold nothing to release.)
    this.#env.sleep(LINGER_MS).then(() => this.#release(got.release));
    return confirmed;
  }

  /** `DELETE /tokens`; true once the token is known dead on the server. */
  async #revoke(url, token, pending = true) {
    const { status } = await this.#call({
      method: "DELETE",
      url: `${url}/tokens?refresh_token=${encodeURIComponent(token)}`,
      keepalive: true,
    });
    // Unconfirmed, it is retried on the next page load or when back online.
    const confirmed = (status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 429);
    if (confirmed && pending) this.#setPending(this.#pending().filter((t) => t !== token));
    return confirmed;
  }

  #pending() {
    return this.#store.pending();
  }

  #setPending(tokens) {
    this.#store.setPending(tokens.slice(-MAX_PENDING));
  }

  #addPending(token) {
    const tokens = this.#pending();
    if (!tokens.includes(token)) this.#setPending([...tokens, token]);
  }

  /**
   * Retries the revocations a sign-out could not confirm, in one tab at a
   * time: a tab that finds the lock taken leaves the work to its holder.
   */
  async #retryPending() {
    if (!this.#pending().length) return;
    let name;
    try {
      name = this.#appUrl(this.#s);
    } catch {
      return;
    }
    const got = await this.#env.lock(`psg_revoke ${name}`, 0);
    if (got === TIMED_OUT) return;
    try {
      // Read again under the lock: the last holder may have done it all.
      for (const token of this.#pending()) await this.#revoke(name, token);
    } finally {
      got.release?.();
    }
  }

  async userInfo() {
    let token = await this.#tokenOrUndefined(this.getAuthToken());
    for (const retried of [false, true]) {
      if (token === undefined) return undefined;
      const url = this.#appUrl(this.#s);
      const { status, retryAfter, body } = await this.#call({ method: "GET", url: `${url}/currentuser`, bearer: token });
      if (status >= 200 && status < 300) {
        const user = body?.user;
        if (user !== null && typeof user === "object") return user;
        throw fail("invalid_response", "the currentuser reply has no user object");
      }
      if (status === 401 && !retried) {
        token = await this.#tokenOrUndefined(this.refresh(true));
        continue;
      }
      // The failure as a last attempt would report it; what the core does not
      // throw for is a refusal (401, 403, 404) of a token just refreshed.
      decide(() => this.#core.retry(1e9, status, retryAfter ?? NaN, 0));
      throw fail("invalid_response", "the auth server refused a freshly refreshed token");
    }
  }

  /** The token, or undefined when the answer is `login_required`. */
  async #tokenOrUndefined(promise) {
    try {
      return await promise;
    } catch (e) {
      if (e?.code === "login_required") return undefined;
      throw e;
    }
  }

  /** Forgets the session everywhere it is kept and tells the listeners and the other tabs. */
  async #end(reason) {
    this.#s = EMPTY;
    this.#unsaved = false;
    this.#epoch++;
    this.#publish();
    // A store that fails to clear must not bring the session back on the
    // next read: memory (empty) stays the truth until it clears.
    try {
      const cleared = this.#store.clear();
      if (!this.#store.sync) await cleared;
    } catch {
      this.#unsaved = true;
    }
    this.#env.post("changed");
    this.#emit("SIGNED_OUT", reason);
  }
}

/** Checked unix seconds as stored: whole, in decimal; 0 or less, or over 10^11 (ms), is an unknown end. */
const seconds = (n) => (n === undefined || n <= 0 || n > 1e11 ? undefined : String(Math.trunc(n)));

/**
 * The fields of an AuthResult in either spelling; undefined when a field has
 * the wrong type or the two spellings disagree.
 */
export function readAuthResult(o) {
  if (o === null || typeof o !== "object") return undefined;
  try {
    const pick = (snake, camel, type) => {
      const [x, y] = [o[snake], o[camel]].map((v) => v ?? undefined);
      for (const v of [x, y]) {
        if (v !== undefined && (typeof v !== type || (type === "number" && !Number.isFinite(v)))) throw 0;
      }
      if (x !== undefined && y !== undefined && x !== y) throw 0;
      return x ?? y;
    };
    return {
      a: pick("auth_token", "authToken", "string"),
      r: pick("refresh_token", "refreshToken", "string"),
      e: pick("refresh_token_expiration", "refreshTokenExpiration", "number"),
    };
  } catch {
    return undefined;
  }
}
