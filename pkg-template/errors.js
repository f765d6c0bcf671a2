/** An error with a stable `code`; see docs/contract.md §4 for each code. */
export class PassageError extends Error {
  constructor(code, message, retryAfter, status, serverCode) {
    super(message);
    this.name = "PassageError";
    this.code = code;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
    if (status !== undefined) this.status = status;
    if (serverCode !== undefined) this.serverCode = serverCode;
  }
}
