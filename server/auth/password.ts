import { hash, verify } from "@node-rs/argon2";
import { randomSecret } from "./secrets";

/**
 * Argon2id with the library defaults (19 MiB, 2 passes, 1 lane: OWASP's recommended minimum).
 * verify() compares in constant time inside the library.
 */

export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    // A malformed stored hash is a failed login, not a 500 that tells the caller something.
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same time as a real verification, for a username that does not exist, so the
 * response time does not reveal which usernames are valid.
 */
export async function dummyVerify(password: string): Promise<false> {
  dummyHash ??= hash(randomSecret());
  await verifyPassword(await dummyHash, password);
  return false;
}
