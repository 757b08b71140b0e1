import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { AppError } from "../errors";

/**
 * What keeps sign-in from being brute-forced without letting a stranger lock the owner out
 * (README "Signing in"):
 *
 * - per client address: a hard limit of failures per window (a stranger can only block
 *   themselves; the address is the socket's unless TRUSTED_PROXIES says otherwise);
 * - per username: a limit that applies only to browsers the admin has not signed in from before.
 *   A successful sign-in leaves a *device cookie* (an HMAC over the username and a random id,
 *   keyed with the stored password hash, so a password change forgets every device); a request
 *   carrying one is judged by its own per-device count instead of the username's;
 * - at most LOGIN_MAX_CONCURRENT_CHECKS argon2 verifications at once, with a short queue: past it
 *   the answer is an immediate 429, so a flood of sign-ins costs a bounded share of the CPU. A
 *   known device waits in the queue whatever its length.
 */

export const DEVICE_COOKIE = "ub_device";
export const DEVICE_COOKIE_MAX_AGE_SECONDS = 365 * 86400;
const DEVICE_ID = /^[A-Za-z0-9_-]{22}$/;
const DEVICE_MAC = /^[A-Za-z0-9_-]{43}$/;

function mac(passwordHash: string, username: string, id: string): string {
  return createHmac("sha256", passwordHash).update(`device:${username.toLowerCase()}:${id}`).digest("base64url");
}

/** A new device cookie value for a user who just signed in. */
export function newDeviceToken(passwordHash: string, username: string): string {
  const id = randomBytes(16).toString("base64url");
  return `${id}.${mac(passwordHash, username, id)}`;
}

/** The device id of a valid cookie for this user and password, or undefined. */
export function verifyDeviceToken(passwordHash: string, username: string, token: string | undefined): string | undefined {
  if (!token) return undefined;
  const [id = "", given = "", extra] = token.split(".");
  if (extra !== undefined || !DEVICE_ID.test(id) || !DEVICE_MAC.test(given)) return undefined;
  const expected = Buffer.from(mac(passwordHash, username, id));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? id : undefined;
}

/**
 * A counting semaphore with a bounded queue. acquire() resolves to a release function, or throws
 * 429 when `priority` is false and the queue is full.
 */
export class CheckLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** The most checks that ever ran at once (for the tests and /admin/health). */
  peak = 0;

  constructor(
    private readonly maxRunning: number,
    private readonly maxWaiting: number,
  ) {}

  async acquire(priority: boolean): Promise<() => void> {
    if (this.running >= this.maxRunning) {
      if (!priority && this.waiting.length >= this.maxWaiting) {
        throw new AppError("TOO_MANY_REQUESTS", "Too many sign-in attempts are being checked right now; try again in a second", {
          retryAfterSeconds: 1,
        });
      }
      await new Promise<void>((resolve) => (priority ? this.waiting.unshift(resolve) : this.waiting.push(resolve)));
    } else {
      this.running++;
    }
    this.peak = Math.max(this.peak, this.running);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `running` stays the same.
      if (next) next();
      else this.running--;
    };
  }
}
