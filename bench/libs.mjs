// The libraries under test: for each, its page, what to bundle for the size
// figure, how to seed its storage with a session, and how its refresh
// economy can be measured (or why it cannot).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fakeJwt } from "../tests/e2e/harness.mjs";
import { supabaseUser } from "./serve.mjs";

export const ROOT = join(import.meta.dirname, "..");

const versionOf = (name) => JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;

/**
 * A session to seed: `token` (the JWT the call must hand back), `refreshToken`,
 * `exp`/`iat` (unix seconds) and `refreshExp`. Each `seed` returns the
 * localStorage items of the library's own format.
 */
export const LIBS = [
  {
    id: "ours",
    name: "passage-user-wasm",
    version: "", // from the pkg/ snapshot, set by run.mjs
    call: "user.getAuthToken()",
    page: "ours.html",
    // Every JavaScript and wasm file of the package (run.mjs measures a
    // snapshot of pkg/ taken at its start).
    shipped: true,
    seed: (s) => ({
      psg_auth_token: s.token,
      psg_refresh_token: s.refreshToken,
      psg_refresh_token_expiration: String(s.refreshExp),
    }),
    // Fresh while now < exp - min(10 s, lifetime / 10). (Each staleAt is the
    // unix time from which the library's own check finds the session stale.)
    staleAt: (s) => s.exp - Math.min(10, (s.exp - s.iat) / 10),
    refresh: { via: "auth server" },
  },
  {
    id: "passage-js",
    name: "@passageidentity/passage-js",
    version: versionOf("@passageidentity/passage-js"),
    call: "passage.session.getAuthToken()",
    page: "passage-js.html",
    bundle: { from: "@passageidentity/passage-js", names: ["PassageSession", "PassageTokenStore"] },
    seed: (s) => ({ psg_auth_token: s.token, psg_refresh_token: s.refreshToken }),
    // Stale once floor(now) > exp.
    staleAt: (s) => s.exp + 1,
    refresh: { via: "auth server" },
  },
  {
    id: "auth0",
    name: "@auth0/auth0-spa-js",
    version: versionOf("@auth0/auth0-spa-js"),
    call: "auth0.getTokenSilently()",
    page: "auth0.html",
    bundle: { from: "@auth0/auth0-spa-js", names: ["Auth0Client"] },
    seed: (s, origin) => {
      const client = "bench-client";
      const audience = "https://api.bench.test";
      const scope = "openid profile email offline_access";
      const claims = { sub: "bench-user", email: "bench@example.com", iss: `${origin}/mock/auth0/`, aud: client, iat: s.iat, exp: s.exp };
      const idToken = fakeJwt(claims);
      return {
        [`@@auth0spajs@@::${client}::@@user@@`]: JSON.stringify({
          id_token: idToken,
          decodedToken: { claims: { __raw: idToken, ...claims }, user: { sub: claims.sub, email: claims.email } },
        }),
        [`@@auth0spajs@@::${client}::${audience}::${scope}`]: JSON.stringify({
          body: {
            access_token: s.token,
            token_type: "Bearer",
            expires_in: s.exp - s.iat,
            scope,
            oauthTokenScope: scope,
            audience,
            client_id: client,
            refresh_token: s.refreshToken,
          },
          expiresAt: s.exp,
        }),
      };
    },
    // The cache treats an entry as expired once floor(now) > expiresAt - 60.
    staleAt: (s) => s.exp - 59,
    refresh: { via: "stand-in /oauth/token" },
  },
  {
    id: "supabase",
    name: "@supabase/auth-js",
    version: versionOf("@supabase/auth-js"),
    call: "auth.getSession()",
    page: "supabase.html",
    bundle: { from: "@supabase/auth-js", names: ["GoTrueClient"] },
    seed: (s) => ({
      "supabase.auth.token": JSON.stringify({
        access_token: s.token,
        token_type: "bearer",
        expires_in: s.exp - s.iat,
        expires_at: s.exp,
        refresh_token: s.refreshToken,
        user: supabaseUser(),
      }),
    }),
    // getSession() refreshes a session within 90 s of expires_at.
    staleAt: (s) => s.exp - 90,
    refresh: { via: "stand-in /token" },
  },
  {
    id: "oidc",
    name: "oidc-client-ts",
    version: versionOf("oidc-client-ts"),
    call: "userManager.getUser()",
    page: "oidc.html",
    bundle: { from: "oidc-client-ts", names: ["UserManager", "WebStorageStateStore"] },
    seed: (s, origin) => ({
      [`oidc.user:${origin}/mock/oidc:bench-client`]: JSON.stringify({
        id_token: fakeJwt({ sub: "bench-user", iss: `${origin}/mock/oidc`, aud: "bench-client", iat: s.iat, exp: s.exp }),
        session_state: null,
        access_token: s.token,
        refresh_token: s.refreshToken,
        token_type: "Bearer",
        scope: "openid profile",
        profile: { sub: "bench-user" },
        expires_at: s.exp,
      }),
    }),
    refresh: {
      na: "getUser() never refreshes: it returns the stored user, expired or not; renewal is signinSilent() against an OIDC provider",
    },
  },
];

/** The plain-JavaScript baseline (hot path) and empty-module baseline (cold start). */
export const BASELINE = {
  id: "plain-js",
  name: "plain JS baseline",
  version: "",
  call: "() => Promise.resolve(cached)",
  page: "plain.html",
  seed: (s) => ({ bench_token: s.token }),
};
