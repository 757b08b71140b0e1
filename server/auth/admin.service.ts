import { createHash, timingSafeEqual } from "node:crypto";
import { AppError } from "../errors";
import { logger } from "../logger";
import type { Runtime } from "../runtime";
import { credentialStore } from "./credential-store";
import { dummyVerify, hashPassword, verifyPassword } from "./password";
import { CheckLimiter, newDeviceToken, verifyDeviceToken } from "./login-guard";
import { addToLimit, windowAt, type Window } from "./rate-limit";
import type { ChangePasswordInput, LoginInput } from "./schemas";
import { generatePassword, sha256Hex } from "./secrets";
import { createSession, revokeAllSessions } from "./session.service";
import type { PasswordSource } from "./types";

/**
 * The admin account: created on first start (from ADMIN_PASSWORD, or with a generated password
 * printed once), signed in with rate limits, and its password changed (which ends every session).
 */

/** Prints the generated password. Bypasses LOG_LEVEL on purpose: it is shown this once only. */
export type BannerPrinter = (lines: string[]) => void;
const printBanner: BannerPrinter = (lines) => console.warn(lines.join("\n"));

const ensured = new WeakMap<Runtime, Promise<void>>();

/**
 * Makes sure the admin user exists, once per runtime (start-up calls it; sign-in calls it too, for
 * processes that skipped start-up). Two nodes starting at once: only the one whose insert wins
 * prints a generated password.
 */
export function ensureAdminUser(runtime: Runtime, opts: { print?: BannerPrinter; now?: Date } = {}): Promise<void> {
  let p = ensured.get(runtime);
  if (!p) {
    p = bootstrap(runtime, opts.print ?? printBanner, opts.now ?? new Date());
    ensured.set(runtime, p);
    p.catch(() => ensured.delete(runtime));
  }
  return p;
}

async function bootstrap(runtime: Runtime, print: BannerPrinter, now: Date): Promise<void> {
  const { adminUsername: username, adminPassword: envPassword } = runtime.config;
  const store = credentialStore(runtime);
  const existing = await store.findAdmin(username);
  if (envPassword) {
    if (!existing) {
      const created = await store.insertAdmin({ username, passwordHash: await hashPassword(envPassword), passwordSource: "env", passwordChangedAt: now });
      if (created) logger.info(`[auth] admin user "${username}" created with the password from ADMIN_PASSWORD`);
      return;
    }
    if (await verifyPassword(existing.passwordHash, envPassword)) return;
    if (existing.passwordSource === "set") {
      logger.warn(
        `[auth] ADMIN_PASSWORD is ignored: the password of "${username}" was changed in the console or with ` +
          "`npm run admin:reset-password`, which takes precedence. Unset ADMIN_PASSWORD, or reset the password to it.",
      );
      return;
    }
    await setPassword(runtime, username, envPassword, "env", now);
    logger.info(`[auth] the password of "${username}" now follows the changed ADMIN_PASSWORD; existing sessions were signed out`);
    return;
  }
  if (existing) return;
  const password = generatePassword();
  const created = await store.insertAdmin({ username, passwordHash: await hashPassword(password), passwordSource: "generated", passwordChangedAt: now });
  if (!created) return;
  print([
    "",
    "==================================================================",
    ` Admin account created. Sign in at /login with`,
    `   username: ${username}`,
    `   password: ${password}`,
    " This password is shown only this once and only its hash is stored.",
    " Change it with `npm run admin:reset-password`, or set ADMIN_PASSWORD.",
    "==================================================================",
    "",
  ]);
}

/** Sets the password (hashing it) and signs every session of the user out. */
export async function setPassword(
  runtime: Runtime,
  username: string,
  password: string,
  source: PasswordSource,
  now = new Date(),
): Promise<void> {
  const store = credentialStore(runtime);
  const user = { username, passwordHash: await hashPassword(password), passwordSource: source, passwordChangedAt: now };
  if (!(await store.updateAdminPassword(user))) await store.insertAdmin(user);
  const ended = await revokeAllSessions(runtime, username, now);
  logger.info(`[auth] password of "${username}" changed; ${ended} session(s) signed out`);
}

function sameText(a: string, b: string): boolean {
  // Equal-length digests, so timingSafeEqual never leaks the length of either side.
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y);
}

export interface LoginContext {
  ip: string;
  requestId: string;
  /** The device cookie the browser sent, if any (see login-guard.ts). */
  deviceToken?: string;
}

export interface LoginResult {
  /** The session id for the cookie: the only copy; the stores keep its hash. */
  token: string;
  username: string;
  expiresAt: Date;
  /** A fresh device cookie when the browser had no valid one. */
  deviceToken?: string;
}

const INVALID = "Invalid username or password";

function usernameCounter(username: string): string {
  return `login-user:${sha256Hex(username.toLowerCase()).slice(0, 32)}`;
}

const limiters = new WeakMap<Runtime, CheckLimiter>();

/** The argon2 work sign-ins may cause in this process (see login-guard.ts). */
export function passwordCheckLimiter(runtime: Runtime): CheckLimiter {
  let l = limiters.get(runtime);
  if (!l) {
    const n = runtime.config.loginMaxConcurrentChecks;
    l = new CheckLimiter(n, 4 * n);
    limiters.set(runtime, l);
  }
  return l;
}

function tooMany(window: Window): AppError {
  return new AppError("TOO_MANY_REQUESTS", `Too many sign-in attempts; try again in ${window.secondsLeft} seconds`, {
    retryAfterSeconds: window.secondsLeft,
  });
}

/**
 * Attempts are counted before the password is checked, per client address and per username — or,
 * from a browser that has signed in before, per device instead of per username, so that failures
 * a stranger causes never block the owner's own browser (login-guard.ts). A successful sign-in
 * takes its attempt back. A wrong username and a wrong password give the same error after the
 * same work (an argon2 verification either way).
 */
export async function login(runtime: Runtime, input: LoginInput, ctx: LoginContext, now = new Date()): Promise<LoginResult> {
  const cfg = runtime.config;
  // The same instant as the session below: an admin created by this very sign-in must not have a
  // password younger than its first session (sessions older than the password are refused).
  await ensureAdminUser(runtime, { now });
  const window = windowAt(now.getTime(), cfg.loginRateWindowSeconds);
  // The lookup happens for any username, so that its time does not tell a valid one apart.
  const stored = await credentialStore(runtime).findAdmin(cfg.adminUsername);
  const admin = sameText(input.username, cfg.adminUsername) ? stored : undefined;
  const device = admin ? verifyDeviceToken(admin.passwordHash, admin.username, ctx.deviceToken) : undefined;
  const counters = [`login-ip:${ctx.ip}`, device ? `login-device:${device}` : usernameCounter(input.username)];
  const [perIp = 0, perUserOrDevice = 0] = await Promise.all(counters.map((c) => addToLimit(runtime, c, window, 1)));
  if (perIp > cfg.loginMaxFailuresPerIp || perUserOrDevice > cfg.loginMaxFailuresPerUsername) {
    logger.warn(`[auth] sign-in refused: too many attempts`, { requestId: ctx.requestId, ip: ctx.ip, perIp, perUserOrDevice, knownDevice: !!device });
    throw tooMany(window);
  }
  let ok: boolean;
  const release = await passwordCheckLimiter(runtime).acquire(!!device);
  try {
    ok = admin ? await verifyPassword(admin.passwordHash, input.password) : await dummyVerify(input.password);
  } finally {
    release();
  }
  if (!admin || !ok) {
    // The attempted username is not logged: people type their password into it by mistake.
    logger.warn(`[auth] sign-in failed`, { requestId: ctx.requestId, ip: ctx.ip });
    throw new AppError("UNAUTHORIZED", INVALID);
  }
  await Promise.all(counters.map((c) => addToLimit(runtime, c, window, -1)));
  const session = await createSession(runtime, admin.username, now);
  logger.info(`[auth] signed in`, { requestId: ctx.requestId, user: admin.username, ip: ctx.ip, knownDevice: !!device });
  return {
    token: session.token,
    username: admin.username,
    expiresAt: session.expiresAt,
    ...(device ? {} : { deviceToken: newDeviceToken(admin.passwordHash, admin.username) }),
  };
}

/**
 * Changes the password of a signed-in admin after checking the current one. Wrong guesses count
 * per caller (the session or token making the change), not per username: failed sign-ins by
 * others must not block the owner's form. Every session ends, this one included.
 */
export async function changePassword(
  runtime: Runtime,
  username: string,
  input: ChangePasswordInput,
  ctx: LoginContext & { callerId: string },
  now = new Date(),
): Promise<void> {
  const cfg = runtime.config;
  const window = windowAt(now.getTime(), cfg.loginRateWindowSeconds);
  const counter = `password-change:${sha256Hex(ctx.callerId).slice(0, 32)}`;
  if ((await addToLimit(runtime, counter, window, 1)) > cfg.loginMaxFailuresPerUsername) {
    throw new AppError("TOO_MANY_REQUESTS", `Too many attempts; try again in ${window.secondsLeft} seconds`, {
      retryAfterSeconds: window.secondsLeft,
    });
  }
  const admin = await credentialStore(runtime).findAdmin(username);
  if (!admin) throw new AppError("NOT_FOUND", `No admin user "${username}"`);
  if (!(await verifyPassword(admin.passwordHash, input.currentPassword))) {
    logger.warn(`[auth] password change refused: wrong current password`, { requestId: ctx.requestId, ip: ctx.ip });
    throw new AppError("BAD_REQUEST", "The current password is incorrect", {
      issues: [{ path: "currentPassword", message: "is incorrect" }],
    });
  }
  if (input.newPassword === input.currentPassword) {
    throw new AppError("BAD_REQUEST", "The new password must differ from the current one", {
      issues: [{ path: "newPassword", message: "must differ from the current password" }],
    });
  }
  await addToLimit(runtime, counter, window, -1);
  await setPassword(runtime, username, input.newPassword, "set", now);
}
