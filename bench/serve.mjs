// The benchmark's web server on 127.0.0.1: the repository's files (pages,
// pkg/, the peers' bundles) and two stand-in token endpoints for the peers
// whose real servers cannot be reached (auth0's /oauth/token and Supabase
// Auth's /token), used only by the refresh-economy figure.
import { createServer } from "node:http";
import { readFileSync, statSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { TYPES, fakeJwt, nowS } from "../tests/e2e/harness.mjs";

// Cross-origin isolation gives performance.now() its fine (5 µs) resolution.
const ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

let serial = 0;
const newRefreshToken = () => `rt-${process.pid}-${++serial}-${Math.random().toString(36).slice(2)}`;

/**
 * The stand-in token endpoints. They answer every refresh with a new token
 * (an hour's lifetime) and a rotated refresh token, accept a refresh token
 * more than once (as Supabase Auth does within its reuse interval), and only
 * count requests: the figure is how many requests the client sends.
 */
function mockEndpoints(origin) {
  const counts = { auth0: 0, supabase: 0 };
  const user = { sub: "bench-user", email: "bench@example.com" };
  const handlers = {
    "POST /mock/auth0/oauth/token": () => {
      counts.auth0++;
      const iat = nowS();
      return {
        access_token: fakeJwt({ ...user, iat, exp: iat + 3600, aud: "https://api.bench.test", jti: newRefreshToken() }),
        id_token: fakeJwt({ ...user, iss: `${origin}/mock/auth0/`, aud: "bench-client", iat, exp: iat + 3600 }),
        refresh_token: newRefreshToken(),
        token_type: "Bearer",
        expires_in: 3600,
        scope: "openid profile email offline_access",
      };
    },
    "POST /mock/supabase/token": () => {
      counts.supabase++;
      const iat = nowS();
      return {
        access_token: fakeJwt({ sub: user.sub, role: "authenticated", iat, exp: iat + 3600, jti: newRefreshToken() }),
        token_type: "bearer",
        expires_in: 3600,
        expires_at: iat + 3600,
        refresh_token: newRefreshToken(),
        user: supabaseUser(),
      };
    },
  };
  return { counts, handlers };
}

export function supabaseUser() {
  return {
    id: "00000000-0000-4000-8000-000000000001",
    aud: "authenticated",
    role: "authenticated",
    email: "bench@example.com",
    app_metadata: { provider: "email" },
    user_metadata: {},
    created_at: "2024-01-01T00:00:00Z",
  };
}

/**
 * Serves `root` on 127.0.0.1 (an ephemeral port), with `/pkg/` from `pkgDir`
 * when given; `counts` counts the stand-in refreshes.
 */
export async function startServer(root, { pkgDir } = {}) {
  let mocks;
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const handler = mocks.handlers[`${req.method} ${url.pathname}`];
    if (handler) {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store", ...ISOLATION });
        res.end(JSON.stringify(handler()));
      });
      return;
    }
    const path = normalize(decodeURIComponent(url.pathname));
    const base = pkgDir && path.startsWith("/pkg/") ? pkgDir : root;
    const file = join(base, base === root ? path : path.slice("/pkg".length));
    if (!file.startsWith(base + "/")) return void res.writeHead(403).end();
    try {
      if (!statSync(file).isFile()) throw new Error("not a file");
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "cache-control": "no-store",
        ...ISOLATION,
      });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404, ISOLATION).end("not found");
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  mocks = mockEndpoints(url);
  return { url, counts: mocks.counts, close: () => new Promise((ok) => {
    server.close(ok);
    server.closeAllConnections();
  }) };
}
