import { AppError } from "./errors";

/**
 * When a request must be done: REQUEST_TIMEOUT_MS after it arrived. The REST wrapper makes one per
 * request; work that outlives the handler (a streamed CSV) stops on `signal` and gives the
 * database the time left as its statement timeout, so its statement ends at the deadline too.
 */
export interface Deadline {
  ms: number;
  /** Epoch ms. */
  at: number;
  signal: AbortSignal;
}

/** `ms` after `from` (epoch ms, default now). */
export function deadlineAfter(ms: number, from = Date.now()): Deadline {
  return { ms, at: from + ms, signal: AbortSignal.timeout(Math.max(1, from + ms - Date.now())) };
}

export function pastDeadline(ms: number): AppError {
  return new AppError("UNAVAILABLE", `The request did not finish within ${ms} ms and was stopped; try a smaller range`, { retryAfterSeconds: 5 });
}
