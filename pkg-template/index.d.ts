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
  | "unsupported"
  | "request_refused"
  | "passkey_failed";

/** Every failure of the library: a real `Error` with a stable `code`. */
export declare class PassageError extends Error {
  constructor(code: PassageErrorCode, message: string, retryAfter?: number, status?: number, serverCode?: string);
  readonly name: "PassageError";
  readonly code: PassageErrorCode;
  /** For `rate_limited`: the seconds the server asked to wait, when it said. */
  readonly retryAfter?: number;
  /** For `request_refused`: the HTTP status the server answered. */
  readonly status?: number;
  /** For `request_refused`: the server's own error `code`, when its reply had a plain one. */
  readonly serverCode?: string;
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
   * another tab's refresh (docs/guide.md, "How long a call can take"). The
   * old name `timeoutInSeconds` is refused with `invalid_options`.
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

/** A user's status on Passage. */
export type UserStatus = "active" | "inactive" | "pending";

/** The kinds of WebAuthn credential Passage knows. */
export type WebAuthnType = "passkey" | "security_key" | "platform";

/** A passkey's icons. */
export interface WebAuthnIcons {
  light: string | null;
  dark: string | null;
}

/** A passkey (passage-js's `Passkey`): its times are the server's RFC 3339 strings. */
export interface Passkey {
  createdAt: string;
  credId: string;
  friendlyName: string;
  id: string;
  lastLoginAt: string;
  type: WebAuthnType;
  updatedAt: string;
  usageCount: number;
  userId: string;
  icons: WebAuthnIcons;
}

/** A social connection; its times are `Date`s, as passage-js makes them. */
export interface UserSocialConnection {
  providerId: string;
  createdAt: Date;
  lastLoginAt: Date;
  providerIdentifier: string;
}

/** The providers Passage connects. */
export type SocialConnection = "apple" | "github" | "google";

/** A user's social connections; a provider not connected is absent. */
export interface UserSocialConnections {
  apple?: UserSocialConnection;
  github?: UserSocialConnection;
  google?: UserSocialConnection;
}

/** The user's metadata: the app's declared fields. */
export interface Metadata {
  [key: string]: boolean | string | number;
}

/** The signed-in user, as passage-js 4.1.2's `CurrentUser`: times are the server's strings. */
export interface CurrentUser {
  createdAt: string;
  email: string;
  emailVerified: boolean;
  id: string;
  lastLoginAt: string;
  loginCount: number;
  phone: string;
  phoneVerified: boolean;
  socialConnections: UserSocialConnections;
  status: UserStatus;
  updatedAt: string;
  userMetadata: object | null;
  webauthn: boolean;
  webauthnDevices: Passkey[];
  webauthnTypes: WebAuthnType[];
}

/** The magic link an email or phone change sent; opening it applies the change. */
export interface MagicLink {
  id: string;
}

/** Options of {@link PassageUser.addPasskey}. */
export interface PasskeyCreationOptions {
  /** Default `"platform"`. */
  authenticatorAttachment?: "platform" | "cross-platform" | "any";
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
  /**
   * The auth token, refreshed only when needed. With `signal`, the call
   * rejects with the signal's reason (an `AbortError` `DOMException` unless
   * the app gave another) as soon as it aborts; a refresh that other calls
   * share goes on for them. Options that are not an object, or a `signal`
   * that is not an `AbortSignal`, reject with `invalid_options`.
   */
  getAuthToken(options?: { signal?: AbortSignal }): Promise<string>;
  /** Forces one refresh (joining one in flight). */
  refresh(): Promise<string>;
  /** True when a well-formed, unexpired auth token is stored. No network. */
  authGuard(): Promise<boolean>;
  /** The signed-in user (passage-js's `CurrentUser`), or `undefined` when signed out. */
  userInfo(): Promise<CurrentUser | undefined>;
  /**
   * Starts a change of email: the server sends a magic link to the new
   * address, which applies the change once opened. `language` localises the
   * message. Rejects `login_required` when signed out (nothing is sent), and
   * `request_refused` when the server refuses (a malformed or taken address).
   */
  changeEmail(newEmail: string, language?: string): Promise<MagicLink>;
  /** As {@link changeEmail}, for the phone number (E.164). */
  changePhone(newPhone: string, language?: string): Promise<MagicLink>;
  /** The user's passkeys. */
  passkeys(): Promise<Passkey[]>;
  /** Renames a passkey; resolves it. An empty id rejects `invalid_options`, sending nothing. */
  editPasskey(passkeyId: string, friendlyName: string): Promise<Passkey>;
  /**
   * Registers a new passkey for the user: the browser's WebAuthn ceremony
   * with the server's options; the server checks the attestation. Rejects
   * `passkey_failed` when the browser creates none (cancelled, no
   * authenticator). Remembered under `psg_cred_obj`, as passage-js does.
   */
  addPasskey(options?: PasskeyCreationOptions): Promise<Passkey>;
  /** Deletes a passkey (one of {@link passkeys}); resolves `true`. */
  deletePasskey(passkey: Pick<Passkey, "id"> & Partial<Pick<Passkey, "credId">>): Promise<boolean>;
  /** The user's social connections. */
  listSocialConnections(): Promise<UserSocialConnections>;
  /** Deletes a social connection; resolves `true`. */
  deleteSocialConnection(socialConnectionType: SocialConnection): Promise<boolean>;
  /** The user's metadata. */
  metadata(): Promise<Metadata>;
  /** Updates the user's metadata (only the app's declared fields, with their types); resolves the user. */
  updateMetadata(metadata: Metadata): Promise<CurrentUser>;
  /** Ends the session everywhere; `true` once the server confirmed the revocation. */
  signOut(): Promise<boolean>;
  /**
   * A `fetch` that sends `Authorization: Bearer <token>` only to `origins`,
   * and retries once after a forced refresh when the API answers 401.
   * Rejects with a `PassageError` when no token can be had. The request's
   * `signal` also ends the wait for its token: the call then rejects with
   * the signal's reason, as `fetch` does, and nothing is sent.
   */
  createFetch(options: FetchHelperOptions): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /**
   * Adds interceptors to an axios instance: the token goes only to
   * `origins`, and a 401 from them is retried once after a forced refresh.
   * Returns a function that removes the interceptors. Throws
   * `invalid_options` for bad options or something that is not an axios
   * instance. A request's `signal` or `cancelToken` also ends the wait for
   * its token (axios rejects it with its `CanceledError`, unsent), and its
   * `timeout` bounds that wait (an axios error with code `ECONNABORTED`).
   */
  axiosInterceptor<C extends AxiosLikeConfig>(instance: AxiosLike<C>, options: ApiOriginOptions): () => void;
  /**
   * Subscribes to auth events; returns the unsubscribe function. Events are
   * delivered when the session changes: those of this tab's own call before
   * that call's promise resolves (a listener may call back in), those of
   * other tabs as soon as the browser tells this one. A listener removed
   * while an event is being delivered is not called for it.
   */
  onAuthStateChange(listener: (event: AuthEvent, detail: AuthEventDetail) => void): () => void;
  /**
   * Removes every listener, channel and timer this instance holds, so that a
   * page can replace its PassageUser without leaking it. The instance keeps
   * working, reading storage on every call instead of listening to other
   * tabs; auth events are no longer delivered, to listeners added before or
   * after. `using user = new PassageUser(...)` (`Symbol.dispose`, where the
   * runtime has it) calls this; so does wasm-bindgen's `free()`, which never
   * releases the instance under the app's feet (the garbage collector does).
   */
  dispose(): void;
}

/** The names of the auth events. */
export declare const AUTH_EVENTS: readonly AuthEvent[];
