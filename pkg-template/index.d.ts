/** The stable codes of a {@link PassageError}. */
export type PassageErrorCode =
  | "login_required"
  | "network"
  | "server"
  | "rate_limited"
  | "invalid_response"
  | "invalid_auth_result"
  | "storage"
  | "invalid_options"
  | "unsupported";

/** Every failure of the library: a real `Error` with a stable `code`. */
export declare class PassageError extends Error {
  constructor(code: PassageErrorCode, message: string, retryAfter?: number);
  readonly name: "PassageError";
  readonly code: PassageErrorCode;
  /** For `rate_limited`: the seconds the server asked to wait, when it said. */
  readonly retryAfter?: number;
}

/** The result of a login, as Passage's `onSuccess` hands it over (snake_case). */
export interface AuthResultSnake {
  auth_token: string;
  redirect_url?: string;
  refresh_token?: string;
  /** Unix seconds: the absolute end of the session. */
  refresh_token_expiration?: number;
}

/** The result of a login, camelCase spelling. */
export interface AuthResultCamel {
  authToken: string;
  redirectUrl?: string;
  refreshToken?: string;
  /** Unix seconds: the absolute end of the session. */
  refreshTokenExpiration?: number;
}

/** Either spelling of an AuthResult. */
export type AuthResult = AuthResultSnake | AuthResultCamel;

/** What a custom store's `setTokens` receives. */
export interface StoredTokens {
  authToken: string;
  redirectUrl: string;
  refreshToken?: string;
  refreshTokenExpiration?: number;
}

/** passage-js's `TokenStore` shape: each method may return a value or a promise of it. */
export interface TokenStore {
  getAuthToken(): string | null | undefined | Promise<string | null | undefined>;
  getRefreshToken(): string | null | undefined | Promise<string | null | undefined>;
  setTokens(tokens: StoredTokens): void | Promise<void>;
  clearTokens(): void | Promise<void>;
  /** Optional: where the store keeps the session's end itself. */
  getRefreshTokenExpiration?(): number | string | null | undefined | Promise<number | string | null | undefined>;
}

/** Options of {@link PassageUser}. Unknown keys are refused. */
export interface PassageUserOptions {
  /** Your Passage app id; defaults to the one named in the stored token (`aud[1]`, else the end of `iss`). */
  appId?: string;
  /** Defaults to `https://auth.passage.id`. */
  authOrigin?: string;
  /** Where the session is kept. Defaults to `"localStorage"` (memory where localStorage is unavailable). */
  tokenStore?: "localStorage" | "memory" | TokenStore;
  /** Seconds before `exp` at which a token counts as stale (at most a tenth of its lifetime). Default 10. */
  leeway?: number;
  /**
   * Timeout of each request to the auth server, in seconds (0.1 to 300).
   * Default 10. It bounds each request, not the whole call: a refresh makes
   * at most 3 attempts with backoff, after waiting at most 4 times this for
   * another tab's refresh (see the README). The old name `timeoutInSeconds`
   * is refused with `invalid_options`.
   */
  requestTimeoutInSeconds?: number;
  /** Mirror the auth token into the `psg_auth_token` cookie (default store only). Default true. */
  authTokenCookie?: boolean;
}

/** The auth events. */
export type AuthEvent = "SIGNED_IN" | "TOKEN_REFRESHED" | "SIGNED_OUT";

/** Why a session ended. */
export type SignOutReason = "sign_out" | "refresh_refused" | "expired" | "other_tab";

/** The second argument of an auth-state listener. */
export interface AuthEventDetail {
  /** For SIGNED_OUT. */
  reason?: SignOutReason;
  /** Unix seconds at which the current auth token expires, when signed in. */
  expiresAt?: number;
}

/** A Passage user as `GET /currentuser` describes it (fields beyond `id` depend on the server). */
export interface PassageUserInfo {
  id: string;
  email?: string;
  email_verified?: boolean;
  phone?: string;
  phone_verified?: boolean;
  /** `"active"`, `"inactive"` or `"pending"` on Passage. */
  status?: string;
  /** RFC 3339 times. */
  created_at?: string;
  updated_at?: string;
  last_login_at?: string | null;
  login_count?: number;
  user_metadata?: Record<string, unknown> | null;
  webauthn?: boolean;
  [field: string]: unknown;
}

/** The API origins that may receive the auth token. */
export interface ApiOriginOptions {
  /**
   * Absolute http(s) URLs of the APIs, e.g. `["https://api.example.com"]`.
   * Only their origins count (scheme, host and port, exactly); paths are
   * ignored. Anything else throws `PassageError("invalid_options")`.
   */
  origins: readonly string[];
}

/** Options of {@link PassageUser.createFetch}. */
export interface FetchHelperOptions extends ApiOriginOptions {
  /** The fetch to wrap; defaults to the global one. */
  fetch?: (input: Request) => Promise<Response>;
}

/**
 * The part of an axios instance the interceptor uses; axios 1.x instances
 * (`axios.create()`, or `axios` itself) satisfy it. `C` is the instance's own
 * request config type, inferred from the instance.
 */
export interface AxiosLike<C extends AxiosLikeConfig = AxiosLikeConfig> {
  interceptors: {
    request: {
      use(onFulfilled: (config: C) => C | Promise<C>): number;
      eject(id: number): void;
    };
    response: {
      use(onFulfilled: undefined, onRejected: (error: unknown) => unknown): number;
      eject(id: number): void;
    };
  };
  getUri(config?: AxiosLikeConfig): string;
  request(config: AxiosLikeConfig): Promise<unknown>;
}

/** The part of an axios request config the interceptor reads and writes. */
export interface AxiosLikeConfig {
  url?: string;
  baseURL?: string;
  headers?: unknown;
}

/** The signed-in user's session. */
export declare class PassageUser {
  constructor(options?: PassageUserOptions);
  /** Stores a login's AuthResult, replacing the whole session. Throws `invalid_auth_result`. */
  setAuthResult(authResult: AuthResult): void;
  /** The auth token, refreshed only when needed. */
  getAuthToken(): Promise<string>;
  /** Forces one refresh (joining one in flight). */
  refresh(): Promise<string>;
  /** True when a well-formed, unexpired auth token is stored. No network. */
  authGuard(): Promise<boolean>;
  /** The current user, or `undefined` when signed out. */
  userInfo(): Promise<PassageUserInfo | undefined>;
  /** Ends the session everywhere; `true` once the server confirmed the revocation. */
  signOut(): Promise<boolean>;
  /**
   * A `fetch` that sends `Authorization: Bearer <token>` only to `origins`,
   * and retries once after a forced refresh when the API answers 401.
   * Rejects with a `PassageError` when no token can be had.
   */
  createFetch(options: FetchHelperOptions): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /**
   * Adds interceptors to an axios instance: the token goes only to
   * `origins`, and a 401 from them is retried once after a forced refresh.
   * Returns a function that removes the interceptors. Throws
   * `invalid_options` for bad options or something that is not an axios
   * instance.
   */
  axiosInterceptor<C extends AxiosLikeConfig>(instance: AxiosLike<C>, options: ApiOriginOptions): () => void;
  /**
   * Subscribes to auth events; returns the unsubscribe function. A listener
   * removed while an event is being delivered is not called for it.
   */
  onAuthStateChange(listener: (event: AuthEvent, detail: AuthEventDetail) => void): () => void;
  /**
   * Removes every listener, channel and timer this instance holds, so that a
   * page can replace its PassageUser without leaking it. The instance keeps
   * working, reading storage on every call instead of listening to other
   * tabs; auth events are no longer delivered.
   */
  dispose(): void;
}

/** The names of the auth events. */
export declare const AUTH_EVENTS: readonly AuthEvent[];
