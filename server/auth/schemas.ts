import { z } from "zod";
import { tokenId } from "../ids";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "../password-policy";
import { SCOPES } from "./scopes";

/** One schema per input, shared by the REST routes, the tRPC router and the CLIs. */

export const newPassword = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`);

export const loginInput = z.strictObject({
  username: z.string().min(1, "is required").max(128, "must be at most 128 characters"),
  // No minimum beyond 1: the policy applies when a password is set, not when one is tried.
  password: z.string().min(1, "is required").max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`),
});
export type LoginInput = z.infer<typeof loginInput>;

export const changePasswordInput = z.strictObject({
  currentPassword: z.string().min(1, "is required").max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`),
  newPassword,
});
export type ChangePasswordInput = z.infer<typeof changePasswordInput>;

export const scope = z.enum(SCOPES, { error: `must be one of ${SCOPES.join(", ")}` });

export const createTokenInput = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1, "is required")
    .max(64, "must be at most 64 characters")
    .regex(/^[\p{L}\p{N} ._:@/-]+$/u, "may contain letters, digits, spaces and . _ : @ / -"),
  scope,
});
export type CreateTokenInput = z.infer<typeof createTokenInput>;

export const tokenIdInput = z.strictObject({
  id: tokenId,
});
export type TokenIdInput = z.infer<typeof tokenIdInput>;
