import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Opaque secrets (session ids, API tokens): 256 random bits, base64url. Only their SHA-256 is
 * stored; a fast hash is enough because the input has full entropy (no dictionary to try).
 */

export const TOKEN_PREFIX = "ubk_";
const RANDOM_PART = /^[A-Za-z0-9_-]{43}$/;
const API_TOKEN = /^ubk_[A-Za-z0-9_-]{43}$/;

export function randomSecret(): string {
  return randomBytes(32).toString("base64url");
}

export function newApiToken(): string {
  return TOKEN_PREFIX + randomSecret();
}

export function looksLikeSessionId(value: string): boolean {
  return RANDOM_PART.test(value);
}

export function looksLikeApiToken(value: string): boolean {
  return API_TOKEN.test(value);
}

export function sha256Hex(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}

/** Constant-time equality of two hex digests (false for different lengths, without comparing). */
export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** A password for the generated admin account: 24 characters of 57 without look-alikes (~140 bits). */
export function generatePassword(length = 24): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  let out = "";
  // Rejection sampling keeps every character equally likely.
  const limit = 256 - (256 % alphabet.length);
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit && out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}
