// A deterministic world for the client: a simulated clock, tabs that share
// a localStorage whose writes reach the other tabs a few ms late (as in
// Chromium), Web Locks, a BroadcastChannel, and a Passage-like auth server
// with rotation, reuse detection and injected transient failures. The real
// client (pkg-template/client.js) and the real wasm core run in it; only
// the environment is simulated. Time jumps from one scheduled event to the
// next (quinn-proto's model); every promise chain runs to quiescence between
// events.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { setImmediate as tick } from "node:timers/promises";
import { fakeJwt } from "../e2e/harness.mjs";

const ROOT = resolve(import.meta.dirname, "../..");
const SRC = resolve(ROOT, "target/pkg-src");

const glue = await import(resolve(SRC, "passage_user.js"));
// The wasm as the package embeds it (scripts/build.sh).
glue.initSync({ module: readFileSync(resolve(SRC, "passage_user_opt.wasm")) });
const { Client, LINGER_MS, NO_LOCKS, TIMED_OUT, session } = await import(resolve(SRC, "client.js"));
export { LINGER_MS };
export const core = { check: glue.check, claim: glue.claim, lockTimeout: glue.lockTimeout, retry: glue.retry, status: glue.status };

export const ORIGIN = "https://auth.test";
export const APP = "app1";
const KEYS = { a: "psg_auth_token", r: "psg_refresh_token", e: "psg_refresh_token_expiration" };
const PENDING = "psg_pending_revocation";

/** A small seeded PRNG (mulberry32). */
export function prng(seed) {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** The claims of a JWT the server issued. */
export const claimsOf = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url"));

export class World {
  /**
   * `seed`; `tabs`: how many; `faults`: the chance that a request fails
   * transiently (network error, 503, 429, or no answer within the timeout);
   * `lifetime`: auth token lifetime, s; `timeoutMs`: the client's request
   * timeout; `lag`: the most ms a write or message takes to reach another
   * tab (a few ms in Chromium; more on a loaded machine).
   */
  constructor(seed, { tabs = 3, faults = 0, lifetime = 60, timeoutMs = 2000, lag = 8 } = {}) {
    this.lag = lag;
    this.random = prng(seed);
    this.now = 1_800_000_000_000;
    this.timers = [];
    this.seq = 0;
    this.faults = faults;
    this.lifetime = lifetime;
    this.timeoutMs = timeoutMs;
    this.truth = new Map();
    this.locks = new Map();
    this.server = new Server(this);
    /** POST /tokens requests in flight now, and the most ever. */
    this.refreshing = 0;
    this.maxRefreshing = 0;
    /** Requests sent and not answered yet; refresh replies lost with a closed page. */
    this.inFlight = new Set();
    this.lostReplies = 0;
    this.tabs = [];
    for (let i = 0; i < tabs; i++) this.tabs.push(new Tab(this, i));
  }

  /** Runs `fn` after `ms` of simulated time. */
  at(ms, fn) {
    this.timers.push({ due: this.now + Math.max(0, ms), seq: this.seq++, fn });
  }

  /** Advances the clock event by event until `until` (ms from now). */
  async run(ms) {
    const end = this.now + ms;
    await tick();
    for (;;) {
      let next = -1;
      for (let i = 0; i < this.timers.length; i++) {
        const t = this.timers[i];
        if (t.due <= end && (next < 0 || t.due < this.timers[next].due || (t.due === this.timers[next].due && t.seq < this.timers[next].seq))) next = i;
      }
      if (next < 0) break;
      const [timer] = this.timers.splice(next, 1);
      this.now = timer.due;
      timer.fn();
      // Every promise chain the event started runs before time moves on.
      await tick();
      this.onStep?.();
    }
    this.now = end;
  }

  between(lo, hi) {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }
}

/** One tab: its view of localStorage, its listeners, and a client. */
class Tab {
  constructor(world, id) {
    this.world = world;
    this.id = id;
    this.generation = 0;
    this.open();
  }

  /** (Re)opens the page: a fresh view of storage and a new client; the old page's client goes dead. */
  open() {
    const world = this.world;
    // A refresh the server carried out whose reply this page will never
    // read: the next page holds a refresh token the server has rotated.
    for (const request of world.inFlight) {
      if (request.tab !== this) continue;
      if (request.rotated) world.lostReplies++;
      // Already on the wire: the server may still carry it out, but no page
      // is waiting for it any more.
      request.orphan = true;
      if (request.refresh) world.refreshing--;
    }
    // Closing a page releases the locks it holds and drops its requests.
    for (const state of world.locks.values()) {
      state.queue = state.queue.filter((waiter) => waiter.tab !== this);
      if (state.holder?.tab === this) state.holder.release();
    }
    this.generation++;
    const generation = this.generation;
    const alive = () => this.generation === generation;
    this.view = new Map(world.truth);
    this.listeners = [];
    this.events = [];
    this.cache = { token: undefined, until: 0 };
    // Delivery times of other tabs' writes and messages to this page keep their order.
    this.lastDelivery = 0;
    const never = new Promise(() => {});
    const env = {
      store: this.store(alive),
      now: () => world.now,
      random: world.random,
      sleep: (ms) => new Promise((wake) => world.at(ms, wake)),
      send: (request) => {
        if (process.env.SIM_STACK && request.method === "POST" && this.id === 2) world.trace?.(`STACK ${new Error().stack.split("\n").slice(2, 9).map((l) => l.trim().replace(/\(.*client.js:/, "(")).join(" | ")}`);
        return alive() ? world.server.send(request, this) : never;
      },
      lock: (name, timeoutMs) => (alive() ? lock(world, this, name, timeoutMs) : never),
      post: (signal) => {
        if (!alive()) return;
        for (const tab of world.tabs) if (tab !== this) tab.deliver(() => tab.signal(signal));
      },
      listen: (fn) => this.listeners.push(fn),
    };
    this.client = new Client(core, { appId: APP, authOrigin: ORIGIN, leewayMs: NaN, timeoutMs: world.timeoutMs }, env, {
      cache: (token, until) => {
        if (alive()) this.cache = { token, until };
      },
      emit: (event, detail) => {
        if (!alive()) return;
        this.events.push({ at: world.now, event, reason: detail.reason });
        world.trace?.(`tab ${this.id} hears ${event}${detail.reason ? ` (${detail.reason})` : ""}`);
      },
    });
  }

  /** What PassageUser.getAuthToken() does: the cached token while fresh, else the client. */
  getAuthToken() {
    if (this.world.now < this.cache.until) return Promise.resolve(this.cache.token);
    return this.client.getAuthToken();
  }

  signal(signal) {
    for (const fn of this.listeners) fn(signal);
  }

  /** Runs `fn` in this tab a few ms from now, after everything delivered before. */
  deliver(fn) {
    const world = this.world;
    const generation = this.generation;
    const due = Math.max(world.now + world.between(0, world.lag), this.lastDelivery);
    this.lastDelivery = due;
    world.at(due - world.now, () => {
      if (this.generation === generation) fn();
    });
  }

  /** localStorage as this tab sees it: its own writes at once, other tabs' a few ms late. */
  store(alive) {
    const world = this.world;
    const write = (entries) => {
      if (!alive()) return;
      for (const [key, value] of entries) {
        if (value === undefined) {
          world.truth.delete(key);
          this.view.delete(key);
        } else {
          world.truth.set(key, value);
          this.view.set(key, value);
        }
      }
      for (const tab of world.tabs) {
        if (tab === this) continue;
        // Key by key, as the browser delivers them, each with its event.
        for (const [key] of entries) {
          tab.deliver(() => {
            // The other tab's copy catches up with the browser's.
            if (world.truth.has(key)) tab.view.set(key, world.truth.get(key));
            else tab.view.delete(key);
            if (key !== PENDING) tab.signal("stored");
          });
        }
      }
    };
    // In the order browser.js writes and clears them.
    const clear = () => write([[KEYS.a], [KEYS.r], [KEYS.e]]);
    return {
      sync: true,
      load: () => session(this.view.get(KEYS.a), this.view.get(KEYS.r), this.view.get(KEYS.e)),
      save: (s) =>
        s.a === undefined && s.r === undefined
          ? clear()
          : write([
              [KEYS.r, s.r],
              [KEYS.e, s.e],
              [KEYS.a, s.a],
            ]),
      clear,
      pending: () => {
        try {
          return JSON.parse(this.view.get(PENDING) ?? "[]");
        } catch {
          return [];
        }
      },
      setPending: (tokens) => write([[PENDING, tokens.length ? JSON.stringify(tokens) : undefined]]),
    };
  }
}

/** Web Locks, as the client's env.lock uses them: try first, then wait at most `timeoutMs`. */
function lock(world, tab, name, timeoutMs) {
  let state = world.locks.get(name);
  if (!state) world.locks.set(name, (state = { held: false, queue: [] }));
  const grant = (waited) => {
    state.held = true;
    let released = false;
    const held = {
      tab,
      waited,
      release: () => {
        if (!released) {
          released = true;
          if (state.holder === held) state.holder = undefined;
          // The browser hands it to the next waiter in a later task.
          world.at(0, () => {
            const next = state.queue.shift();
            if (next) next.grant();
            else state.held = false;
          });
        }
        return new Promise((done) => world.at(0, done));
      },
    };
    state.holder = held;
    return { waited, release: held.release };
  };
  return new Promise((answer) => {
    // The grant itself comes in a later task too.
    world.at(0, () => {
      if (!state.held) return answer(grant(false));
      if (!timeoutMs) return answer(TIMED_OUT);
      const waiter = { tab, grant: () => answer(grant(true)) };
      state.queue.push(waiter);
      world.at(timeoutMs, () => {
        const i = state.queue.indexOf(waiter);
        if (i >= 0) {
          state.queue.splice(i, 1);
          answer(TIMED_OUT);
        }
      });
    });
  });
}
export { NO_LOCKS };

/** The auth server: sessions (families) of rotating refresh tokens. */
class Server {
  constructor(world) {
    this.world = world;
    this.families = new Map();
    this.tokens = new Map();
    this.next = 0;
    /** Refresh tokens presented after they were rotated (reuse detection fired). */
    this.reuses = 0;
    /** Refused refresh requests per family, as read by a live page. */
    this.refusals = new Map();
  }

  issue(family) {
    const world = this.world;
    const now = Math.floor(world.now / 1000);
    const token = `rt-${++this.next}`;
    this.tokens.set(token, family.id);
    family.current = token;
    return {
      auth_token: fakeJwt({ sub: family.sub, iat: now, exp: now + world.lifetime, aud: [ORIGIN, APP], fam: family.id }),
      refresh_token: token,
    };
  }

  /** A login: a new session for `sub`. */
  login(sub) {
    const family = { id: this.families.size + 1, sub, revoked: undefined, current: undefined };
    this.families.set(family.id, family);
    return this.issue(family);
  }

  revoke(familyId, why) {
    const family = this.families.get(familyId);
    if (family && !family.revoked) family.revoked = why;
  }

  handle({ method, url, body }) {
    const u = new URL(url);
    if (method === "POST" && u.pathname === `/v1/apps/${APP}/tokens`) {
      const familyId = this.tokens.get(body?.refresh_token);
      const family = this.families.get(familyId);
      if (!family) return { status: 401 };
      if (!family.revoked && body.refresh_token !== family.current) {
        this.reuses++;
        family.revoked = "reuse";
      }
      if (family.revoked) return { status: 401, family: family.id };
      return { status: 200, body: { auth_result: this.issue(family) } };
    }
    if (method === "DELETE" && u.pathname === `/v1/apps/${APP}/tokens`) {
      const family = this.families.get(this.tokens.get(u.searchParams.get("refresh_token")));
      if (!family) return { status: 404 };
      this.revoke(family.id, "sign_out");
      return { status: 204 };
    }
    return { status: 404 };
  }

  /** One request over the simulated network, with the client's timeout. */
  send(request, tab) {
    const world = this.world;
    const refresh = request.method === "POST";
    if (refresh) world.maxRefreshing = Math.max(world.maxRefreshing, ++world.refreshing);
    const flight = { tab, refresh, rotated: false };
    world.inFlight.add(flight);
    return new Promise((answer, fail) => {
      let settled = false;
      const settle = (fn) => {
        if (settled) return;
        settled = true;
        world.inFlight.delete(flight);
        if (refresh && !flight.orphan) world.refreshing--;
        fn();
      };
      world.at(request.timeoutMs, () => settle(() => fail(1)));
      const up = world.between(2, 40);
      const down = world.between(2, 40);
      const fault = world.random() < world.faults ? world.between(0, 3) : -1;
      world.at(up, () => {
        // A transient failure happens before the server acts on the request.
        world.trace?.(`tab ${tab.id} ${request.method} ${request.body?.refresh_token ?? ""} ${fault >= 0 ? `fault ${fault}` : ""}`);
        if (fault === 0) return settle(() => fail(0));
        if (fault === 1) return world.at(down, () => settle(() => answer({ status: 503 })));
        if (fault === 2) return world.at(down, () => settle(() => answer({ status: 429, retryAfter: 1 })));
        if (fault === 3) return; // no answer: the client's timeout fires
        const reply = this.handle(request);
        flight.rotated = refresh && reply.status === 200;
        if (flight.orphan && flight.rotated) world.lostReplies++;
        world.at(down, () =>
          settle(() => {
            // A refusal read by a live page (a closed one cannot act on it).
            if (reply.family && !flight.orphan) this.refusals.set(reply.family, (this.refusals.get(reply.family) ?? 0) + 1);
            world.trace?.(`tab ${tab.id} ${request.method} ${request.body?.refresh_token ?? ""} -> ${reply.status}${flight.orphan ? " (page closed)" : ""}`);
            answer({ status: reply.status, retryAfter: undefined, body: reply.body });
          }),
        );
      });
    });
  }
}

export { KEYS };
