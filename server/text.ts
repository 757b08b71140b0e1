import { z } from "zod";

/** Text PostgreSQL can store: the check every id, name and JSON string of every transport passes. */

/** False for NUL bytes and unpaired surrogates, which PostgreSQL text and jsonb refuse. */
export function isStorableText(s: string): boolean {
  return !s.includes("\u0000") && !/\p{Cs}/u.test(s);
}

export const storableText = (max: number) =>
  z
    .string()
    .min(1, { error: "must not be empty" })
    .max(max, { error: `must be at most ${max} characters` })
    .refine(isStorableText, { error: "must not contain NUL bytes or unpaired surrogates" });
