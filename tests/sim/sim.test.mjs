// Property tests of the client over random schedules, in the simulated
// world of ./world.mjs: the real client and wasm core, several tabs, a
// rotating auth server, transient failures, sign-ins, sign-outs, server-side
// revocations and pages reopened, on a simulated clock.
//
// Invariants checked on every schedule:
// - at most one refresh request in flight per origin, across all tabs;
// - no call resolves with a token that is expired at that moment;
// - no transient failure ends a session: a rotated refresh token is never
//   reused (but after a page closed with a refresh reply in flight, which
//   strict rotation makes fatal by design), and every SIGNED_OUT and
//   login_required has a cause in the schedule (a sign-out, a server-side
//   revocation, such a lost reply);
// - a refused refresh ends the session once: one refused request per
//   revoked session, whatever the number of tabs;
// - every call settles, within the bound the timeouts imply;
// - once signOut() has settled (and until the next sign-in), storage holds
//   no refresh token, and no tab hands out a token once the browser has
//   delivered the change to it.
//
// SIM_SEED and SIM_RUNS pick other or more schedules (e.g. SIM_RUNS=2000).
import { test } from "node:test";
import assert from "node:assert/strict";
import { KEYS, LINGER_MS, World, claimsOf, prng } from "./world.mjs";

assert.ok(LINGER_MS > 90, "the schedules' delivery lags stay under the linger");

const RUNS = Number(process.env.SIM_RUNS ?? 60);
const SEED = Number(process.env.SIM_SEED ?? 1);

/** The longest any call may take: the lock wait, then every attempt at its timeout with the longest backoff. */
const bound = (w) => 4 * w.timeoutMs + 3 * w.timeoutMs + 2 * 10_000 + 2_000;

async function schedule(seed) {
  const pick = prng(seed * 7919);
  const w = new World(seed, {
    tabs: 1 + Math.floor(pick() * 4),
    faults: [0, 0.05, 0.2, 0.4][Math.floor(pick() * 4)],
    lifetime: [20, 60, 300][Math.floor(pick() * 3)],
    // Chromium delivers a write to other tabs in a few ms; the client's
    // design holds while that stays under the lock's linger (LINGER_MS).
    lag: [8, 8, 40, 90][Math.floor(pick() * 4)],
  });
  const log = [];
  const calls = [];
  const failures = [];
  const note = (what) => log.push(`${((w.now - 1_800_000_000_000) / 1000).toFixed(3)}s ${what}`);
  let firstFailure;
  const check = (ok, what) => {
    if (ok) return;
    failures.push(`${what} (at ${((w.now - 1_800_000_000_000) / 1000).toFixed(3)}s)`);
    firstFailure ??= log.length;
  };
  // Session-changing causes: when the last sign-in and the last settled sign-out happened.
  let lastLogin = -Infinity;
  let signedOutAt = -Infinity;
  let causes = 0;

  const call = (tab, kind) => {
    const c = { tab, generation: tab.generation, kind, start: w.now, end: undefined, token: undefined, code: undefined };
    calls.push(c);
    const promise = kind === "get" ? tab.getAuthToken() : kind === "refresh" ? tab.client.refresh() : tab.client.signOut();
    promise.then(
      (v) => {
        c.end = w.now;
        note(`tab ${tab.id} ${kind} resolved${kind === "signOut" ? ` ${v}` : ` ${claimsOf(v).fam}/${claimsOf(v).iat}`}`);
        if (kind !== "signOut") {
          c.token = v;
          const { exp } = claimsOf(v);
          check(exp * 1000 > w.now, `tab ${tab.id} ${kind} resolved with a token expired ${w.now - exp * 1000} ms ago`);
          // Once the sign-out has reached this tab (the browser's delivery lag).
          check(
            !(signedOutAt > lastLogin && c.start > signedOutAt + w.lag),
            `tab ${tab.id} handed out a token after a settled sign-out`,
          );
        } else if (c.start > lastLogin + w.lag) {
          // (A sign-in that had not reached this tab yet is not signed out.)
          signedOutAt = Math.max(signedOutAt, w.now);
        }
      },
      (e) => {
        c.end = w.now;
        c.code = e?.code ?? String(e);
        note(`tab ${tab.id} ${kind} failed ${c.code}`);
      },
    );
  };

  if (process.env.SIM_LOG) w.trace = note;
  let seen = "";
  w.onStep = () => {
    if (process.env.SIM_LOG) {
      const now = JSON.stringify([w.truth.get(KEYS.r), ...w.tabs.map((t) => [t.view.get(KEYS.r), t.view.has(KEYS.a)])]);
      if (now !== seen) note(`storage ${(seen = now)}`);
    }
    check(w.refreshing <= 1, `${w.refreshing} refresh requests in flight at once`);
    if (signedOutAt > lastLogin) {
      check(!w.truth.has(KEYS.r), "storage holds a refresh token after a settled sign-out");
    }
  };

  // A first sign-in, then random operations for a few simulated minutes.
  const login = (tab, sub) => {
    tab.client.setAuthResult(w.server.login(sub));
    lastLogin = w.now;
    note(`tab ${tab.id} signs in ${sub}`);
  };
  login(w.tabs[0], "u1");
  const until = w.now + 240_000;
  while (w.now < until) {
    await w.run(w.between(0, 4000));
    const tab = w.tabs[w.between(0, w.tabs.length - 1)];
    const roll = pick();
    if (roll < 0.35) {
      const n = w.between(1, 5);
      note(`tab ${tab.id} getAuthToken x${n}`);
      for (let i = 0; i < n; i++) call(tab, "get");
    } else if (roll < 0.6) {
      // Every tab at once (a refresh storm when the token is stale), each
      // a few ms apart.
      note(`every tab calls getAuthToken`);
      for (const t of w.tabs) w.at(w.between(0, 20), () => call(t, "get"));
      // Sometimes a sign-out lands in the middle of it.
      if (pick() < 0.1) {
        causes++;
        w.at(w.between(0, 150), () => {
          note(`tab ${tab.id} signOut amid the storm`);
          call(tab, "signOut");
        });
      }
    } else if (roll < 0.7) {
      note(`tab ${tab.id} refresh`);
      call(tab, "refresh");
    } else if (roll < 0.73) {
      note(`tab ${tab.id} signOut`);
      causes++;
      call(tab, "signOut");
    } else if (roll < 0.76) {
      login(tab, pick() < 0.5 ? "u1" : "u2");
    } else if (roll < 0.79) {
      const family = [...w.server.families.values()].at(-1);
      note(`server revokes session ${family.id}`);
      causes++;
      w.server.revoke(family.id, "admin");
    } else if (roll < 0.83) {
      note(`tab ${tab.id} reloads the page`);
      tab.open();
    }
  }
  // Let everything settle.
  await w.run(bound(w) + 10_000);

  // Strict rotation makes one loss unavoidable: a page closed after the
  // server rotated its token but before the reply arrived leaves the next
  // page the old token, and its use ends the session. Nothing else may.
  check(
    w.server.reuses <= w.lostReplies,
    `a rotated refresh token was reused ${w.server.reuses} times (${w.lostReplies} replies lost with a closed page)`,
  );
  causes += w.lostReplies;
  for (const [family, refused] of w.server.refusals) {
    check(refused <= 1, `session ${family} was refused ${refused} times`);
  }
  for (const c of calls) {
    // A page closed meanwhile takes its pending calls with it.
    if (c.end === undefined && c.tab.generation !== c.generation) continue;
    check(c.end !== undefined, `tab ${c.tab.id} ${c.kind} from ${c.start} never settled`);
    if (c.end !== undefined) check(c.end - c.start <= bound(w), `tab ${c.tab.id} ${c.kind} took ${c.end - c.start} ms`);
    if (causes === 0) {
      check(c.code === undefined, `tab ${c.tab.id} ${c.kind} failed with ${c.code} with no sign-out or revocation`);
    }
  }
  if (causes === 0) {
    for (const tab of w.tabs) {
      check(!tab.events.some((e) => e.event === "SIGNED_OUT"), `tab ${tab.id} signed out with no cause`);
    }
  }
  if (process.env.SIM_LOG) console.log(log.join("\n"));
  // The story up to the first failure.
  const story = log.slice(Math.max(0, (firstFailure ?? log.length) - 30), (firstFailure ?? log.length) + 1);
  return { failures, story, tabs: w.tabs.length, faults: w.faults, lag: w.lag, calls: calls.length };
}

test(`the client's invariants hold over ${RUNS} random schedules (seed ${SEED})`, async () => {
  let calls = 0;
  for (let i = 0; i < RUNS; i++) {
    const seed = SEED + i;
    const r = await schedule(seed);
    calls += r.calls;
    assert.deepEqual(
      r.failures.slice(0, 5),
      [],
      `schedule ${seed} (${r.tabs} tabs, faults ${r.faults}, lag ${r.lag} ms); SIM_SEED=${seed} SIM_RUNS=1 reproduces it.\n` +
        r.story.join("\n"),
    );
  }
  assert.ok(calls > RUNS * 10, `only ${calls} calls were made`);
});
