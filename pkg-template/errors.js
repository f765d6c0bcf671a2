/** An error with a stable `code`; see the README for each code. */
export class PassageError extends Error {
  constructor(code, message, retryAfter) {
    super(message);
    this.name = "PassageError";
    this.code = code;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

/** A PassageError to throw. */
export const fail = (code, message) => new PassageError(code, message);

/**
 * Runs a call into the core, whose errors arrive as thrown strings
 * `code TAB message [TAB retryAfter]`, and rethrows them as PassageErrors.
 */
export function decide(call) {
  try {
    return call();
  } catch (e) {
    if (typeof e !== "string") throw e;
    const [code, message, retryAfter] = e.split("\t");
    throw new PassageError(code, message, retryAfter && +retryAfter);
  }
}

export const noSession = () => fail("login_required", "no session: sign in first");
