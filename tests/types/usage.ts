// A typed app using the package as its users would: every export, every
// method, both AuthResult spellings, a custom store, the helpers with a real
// axios instance. `// @ts-expect-error` lines prove that wrong usage is refused.
import axios from "axios";
import {
  AUTH_EVENTS,
  PassageError,
  PassageUser,
  type AuthEvent,
  type AuthEventDetail,
  type AuthResult,
  type CurrentUser,
  type MagicLink,
  type Metadata,
  type Passkey,
  type PassageErrorCode,
  type PassageUserOptions,
  type UserSocialConnections,
  type StoredTokens,
  type TokenStore,
} from "passage-user-wasm";

// --- construction ---------------------------------------------------------

new PassageUser();
new PassageUser({});
const user = new PassageUser({
  appId: "my-app",
  authOrigin: "https://auth.passage.id",
  tokenStore: "localStorage",
  leeway: 10,
  requestTimeoutInSeconds: 5,
  authTokenCookie: false,
});
new PassageUser({ tokenStore: "memory" });

// A custom store, sync.
const tokens = new Map<string, string>();
const syncStore: TokenStore = {
  getAuthToken: () => tokens.get("auth") ?? null,
  getRefreshToken: () => tokens.get("refresh"),
  setTokens(result: StoredTokens) {
    tokens.set("auth", result.authToken);
    if (result.refreshToken !== undefined) tokens.set("refresh", result.refreshToken);
    const end: number | undefined = result.refreshTokenExpiration;
    void end;
  },
  clearTokens: () => tokens.clear(),
};
new PassageUser({ appId: "my-app", tokenStore: syncStore });

// A custom store, async, as a class, with the optional expiration.
class RemoteStore implements TokenStore {
  async getAuthToken(): Promise<string | null> {
    return null;
  }
  async getRefreshToken(): Promise<string | undefined> {
    return undefined;
  }
  async setTokens(_tokens: StoredTokens): Promise<void> {}
  async clearTokens(): Promise<void> {}
  async getRefreshTokenExpiration(): Promise<number | null> {
    return null;
  }
}
new PassageUser({ tokenStore: new RemoteStore() });

const options: PassageUserOptions = { appId: "x" };
new PassageUser(options);

// @ts-expect-error: not a known store name
new PassageUser({ tokenStore: "sessionStorage" });
// @ts-expect-error: unknown option (a typo of appId)
new PassageUser({ appID: "my-app" });
// @ts-expect-error: leeway is a number of seconds
new PassageUser({ leeway: "10s" });
// @ts-expect-error: a store without clearTokens
new PassageUser({ tokenStore: { getAuthToken: () => null, getRefreshToken: () => null, setTokens: () => {} } });

// --- the onSuccess hand-over: both spellings --------------------------------

user.setAuthResult({ auth_token: "a.b.c", redirect_url: "/", refresh_token: "rt", refresh_token_expiration: 1_900_000_000 });
user.setAuthResult({ authToken: "a.b.c", redirectUrl: "/", refreshToken: "rt", refreshTokenExpiration: 1_900_000_000 });
user.setAuthResult({ auth_token: "a.b.c", redirect_url: "/" });
user.setAuthResult({ authToken: "a.b.c", redirectUrl: "/" });
const fromElement: AuthResult = JSON.parse("{}") as AuthResult;
user.setAuthResult(fromElement);

// @ts-expect-error: not an AuthResult
user.setAuthResult(42);
// @ts-expect-error: the auth token is required
user.setAuthResult({ redirect_url: "/" });
// @ts-expect-error: the expiration is unix seconds, a number
user.setAuthResult({ auth_token: "a.b.c", redirect_url: "/", refresh_token_expiration: "2030-01-01" });

// --- the methods ----------------------------------------------------------

async function methods(): Promise<void> {
  const token: string = await user.getAuthToken();
  const cancellable: string = await user.getAuthToken({ signal: new AbortController().signal });
  // @ts-expect-error: a signal must be an AbortSignal
  await user.getAuthToken({ signal: "abort" });
  const forced: string = await user.refresh();
  const guarded: boolean = await user.authGuard();
  const info: CurrentUser | undefined = await user.userInfo();
  if (info) {
    const id: string = info.id;
    const email: string = info.email;
    const created: string = info.createdAt;
    const devices: Passkey[] = info.webauthnDevices;
    const since: Date | undefined = info.socialConnections.github?.createdAt;
    // @ts-expect-error: passage-js's camelCase, not the server's snake_case
    void info.created_at;
    void [id, email, created, devices, since];
  }
  // @ts-expect-error: userInfo may be undefined (signed out)
  void (await user.userInfo()).id;
  const revoked: boolean = await user.signOut();
  void [token, cancellable, forced, guarded, revoked];
}
void methods;

// --- the signed-in user's account (passage-js's PassageCurrentUser) --------

async function account(): Promise<void> {
  const link: MagicLink = await user.changeEmail("new@example.com");
  const phoneLink: MagicLink = await user.changePhone("+15555550100", "en");
  const passkeys: Passkey[] = await user.passkeys();
  const renamed: Passkey = await user.editPasskey(passkeys[0].id, "Laptop");
  const added: Passkey = await user.addPasskey({ authenticatorAttachment: "cross-platform" });
  await user.addPasskey();
  const deleted: boolean = await user.deletePasskey(renamed);
  const social: UserSocialConnections = await user.listSocialConnections();
  const unlinked: boolean = await user.deleteSocialConnection("github");
  const metadata: Metadata = await user.metadata();
  const updated: CurrentUser = await user.updateMetadata({ plan: "pro", seats: 3, beta: true });
  // @ts-expect-error: not a provider Passage connects
  await user.deleteSocialConnection("myspace");
  // @ts-expect-error: metadata values are strings, numbers and booleans
  await user.updateMetadata({ nested: { a: 1 } });
  // @ts-expect-error: not an authenticator attachment
  await user.addPasskey({ authenticatorAttachment: "usb" });
  void [link, phoneLink, added, deleted, social, unlinked, metadata, updated];
}
void account;

// --- events -----------------------------------------------------------------

const off: () => void = user.onAuthStateChange((event: AuthEvent, detail: AuthEventDetail) => {
  switch (event) {
    case "SIGNED_IN":
    case "TOKEN_REFRESHED": {
      const expiresAt: number | undefined = detail.expiresAt;
      void expiresAt;
      break;
    }
    case "SIGNED_OUT": {
      const reason: "sign_out" | "refresh_refused" | "expired" | "other_tab" | undefined = detail.reason;
      void reason;
      break;
    }
    default: {
      const none: never = event;
      void none;
    }
  }
});
off();
const events: readonly AuthEvent[] = AUTH_EVENTS;
void events;
// @ts-expect-error: not an event the library fires
user.onAuthStateChange((event) => event === "USER_UPDATED");
// @ts-expect-error: a listener is required
user.onAuthStateChange();

// --- errors -----------------------------------------------------------------

async function errors(): Promise<string> {
  try {
    return await user.getAuthToken();
  } catch (error) {
    if (error instanceof PassageError) {
      const code: PassageErrorCode = error.code;
      const isError: Error = error;
      void isError;
      switch (code) {
        case "login_required":
          return "send the user to the login";
        case "rate_limited": {
          const seconds: number | undefined = error.retryAfter;
          return `wait ${seconds ?? 1} s`;
        }
        case "network":
        case "server":
        case "invalid_response":
        case "invalid_auth_result":
        case "storage":
        case "invalid_options":
        case "unsupported":
        case "request_refused":
        case "passkey_failed":
          return error.message;
        default: {
          const none: never = code;
          return none;
        }
      }
    }
    throw error;
  }
}
void errors;
// dispose() takes nothing and returns nothing.
const disposed: void = user.dispose();
void disposed;
// @ts-expect-error: dispose takes no argument
user.dispose(true);
// @ts-expect-error: the old name of requestTimeoutInSeconds
new PassageUser({ timeoutInSeconds: 5 });

// @ts-expect-error: not a code
const wrongCode: PassageErrorCode = "expired_token";
void wrongCode;
new PassageError("network", "offline");

// --- the fetch helper -----------------------------------------------------

const apiFetch: typeof fetch extends (...args: infer A) => infer R ? (...args: A) => R : never = user.createFetch({
  origins: ["https://api.example.com"],
});
async function useFetch(): Promise<unknown> {
  const res: Response = await apiFetch("https://api.example.com/orders", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: 1 }),
  });
  await apiFetch(new URL("https://api.example.com/orders"));
  await apiFetch(new Request("/orders"));
  return res.json();
}
void useFetch;
user.createFetch({ origins: ["https://api.example.com"], fetch: (request) => fetch(request) });
const API_ORIGINS = ["https://api.example.com", "https://files.example.com"] as const;
user.createFetch({ origins: API_ORIGINS });
user.createFetch({ origins: ["https://api.example.com"], fetch: window.fetch });
// @ts-expect-error: the origins are required
user.createFetch({});
// @ts-expect-error: origins is a list
user.createFetch({ origins: "https://api.example.com" });
// @ts-expect-error: options are required
user.createFetch();

// --- the axios interceptor --------------------------------------------------

const api = axios.create({ baseURL: "https://api.example.com" });
const eject: () => void = user.axiosInterceptor(api, { origins: ["https://api.example.com"] });
eject();
user.axiosInterceptor(axios, { origins: ["https://api.example.com"] });
async function useAxios(): Promise<string> {
  const res = await api.get<{ name: string }>("/me");
  return res.data.name;
}
void useAxios;
// @ts-expect-error: not an axios instance
user.axiosInterceptor({}, { origins: ["https://api.example.com"] });
// @ts-expect-error: the origins are required
user.axiosInterceptor(api, {});
// @ts-expect-error: options are required
user.axiosInterceptor(api);
