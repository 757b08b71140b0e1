import { changePasswordInput, createTokenInput, loginInput, tokenIdInput } from "../../auth/schemas";
import { createApiToken, listApiTokens, revokeAllApiTokens, revokeApiToken } from "../../auth/token.service";
import { changeOwnPassword, signIn, signOut } from "../../auth/web";
import { AppError } from "../../errors";
import { createTRPCRouter, protectedProcedure, publicProcedure } from "../init";

/** auth.* — sign-in (the one public procedure), the caller, the password, and API tokens. */
export const authRouter = createTRPCRouter({
  login: publicProcedure
    .meta({ scope: "public" })
    .input(loginInput)
    .mutation(async ({ ctx, input }) => {
      try {
        const { setCookies, data } = await signIn(ctx.runtime, ctx.req, input, ctx.requestId);
        for (const c of setCookies) ctx.resHeaders?.append("set-cookie", c);
        return data;
      } catch (err) {
        if (err instanceof AppError && err.extra.retryAfterSeconds !== undefined) {
          ctx.resHeaders?.set("retry-after", String(err.extra.retryAfterSeconds));
        }
        throw err;
      }
    }),

  // Public so that a browser whose session already expired can still clear its cookie.
  logout: publicProcedure.meta({ scope: "public" }).mutation(async ({ ctx }) => {
    const { setCookie, data } = await signOut(ctx.runtime, ctx.req);
    ctx.resHeaders?.append("set-cookie", setCookie);
    return data;
  }),

  me: protectedProcedure("usage:read").query(({ ctx }) => ({
    kind: ctx.principal.kind,
    name: ctx.principal.name,
    scopes: ctx.principal.scopes,
  })),

  changePassword: protectedProcedure("admin")
    .input(changePasswordInput)
    .mutation(async ({ ctx, input }) => {
      const { setCookie, data } = await changeOwnPassword(ctx.runtime, ctx.req, ctx.principal, input, ctx.requestId);
      ctx.resHeaders?.append("set-cookie", setCookie);
      return data;
    }),

  tokens: createTRPCRouter({
    list: protectedProcedure("admin").query(({ ctx }) => listApiTokens(ctx.runtime)),
    create: protectedProcedure("admin")
      .input(createTokenInput)
      .mutation(async ({ ctx, input }) => {
        const { token, info } = await createApiToken(ctx.runtime, input);
        return { ...info, token };
      }),
    revoke: protectedProcedure("admin")
      .input(tokenIdInput)
      .mutation(({ ctx, input }) => revokeApiToken(ctx.runtime, input.id)),
    revokeAll: protectedProcedure("admin").mutation(({ ctx }) => revokeAllApiTokens(ctx.runtime)),
  }),
});
