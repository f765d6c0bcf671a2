// The page side of the benchmark, shared by every library's page. A page
// builds its client from the storage the run seeded, then calls
// `start(call, tokenOf)`: `call()` is the measured call and `tokenOf(result)`
// the token string in its result. Unless the URL has `?lazy`, the first call
// is made at once and the time from navigation to its result is recorded.
const params = new URLSearchParams(location.search);

/** The auth server origin and app id the run passed in the URL. */
export const config = {
  authOrigin: params.get("authOrigin") ?? location.origin,
  app: params.get("app") ?? "bench",
  lazy: params.has("lazy"),
};

export async function start(call, tokenOf = (result) => result) {
  const bench = { call, tokenOf, seq, concurrent, loop, fire };
  try {
    if (!config.lazy) {
      const first = tokenOf(await call());
      bench.coldMs = performance.now(); // since navigation start
      bench.first = first;
    }
    window.bench = bench;
  } catch (error) {
    window.benchError = String(error?.message ?? error);
  }
}

/** Sequential awaited calls for at least `ms`, in chunks of 1,000; each result checked. */
async function seq(ms) {
  const { call, tokenOf, first } = window.bench;
  let calls = 0;
  let bad = 0;
  let elapsed;
  const t0 = performance.now();
  do {
    for (let i = 0; i < 1000; i++) if (tokenOf(await call()) !== first) bad++;
    calls += 1000;
    elapsed = performance.now() - t0;
  } while (elapsed < ms);
  return { calls, ms: elapsed, bad };
}

/** `reps` rounds of `n` concurrent calls (Promise.all): the time of each round. */
async function concurrent(n, reps) {
  const { call, tokenOf, first } = window.bench;
  const times = [];
  let bad = 0;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: n }, () => call()));
    times.push(performance.now() - t0);
    for (const result of results) if (tokenOf(result) !== first) bad++;
  }
  return { times, bad };
}

/** `n` sequential awaited calls, each checked (the memory figure). */
async function loop(n) {
  const { call, tokenOf, first } = window.bench;
  let bad = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if (tokenOf(await call()) !== first) bad++;
  return { bad, ms: performance.now() - t0 };
}

/**
 * At wall-clock time `at`, `n` concurrent calls; the distinct tokens and
 * errors they gave, and how many had not settled after `limitMs`.
 */
async function fire(at, n, limitMs) {
  const { call, tokenOf } = window.bench;
  await new Promise((ok) => setTimeout(ok, Math.max(0, at - Date.now())));
  const t0 = performance.now();
  const HUNG = {};
  const limit = new Promise((ok) => setTimeout(() => ok(HUNG), limitMs));
  const settled = await Promise.all(
    Array.from({ length: n }, () =>
      Promise.race([
        call().then(
          (value) => ({ value }),
          (error) => ({ error }),
        ),
        limit,
      ]),
    ),
  );
  const ms = performance.now() - t0;
  const tokens = new Set();
  const errors = [];
  let hung = 0;
  for (const s of settled) {
    if (s === HUNG) hung++;
    else if ("error" in s) errors.push(String(s.error?.code ?? s.error?.message ?? s.error));
    else tokens.add(tokenOf(s.value));
  }
  return { tokens: [...tokens], errors, hung, ms };
}
