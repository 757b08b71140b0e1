import { deleteApiKey, listApiKeys, upsertApiKey } from "../../accounts/accounts.service";
import { deleteByIdInput, listApiKeysInput, upsertApiKeyInput } from "../../accounts/schemas";
import { createTRPCRouter, protectedProcedure } from "../init";

export const apiKeysRouter = createTRPCRouter({
  upsert: protectedProcedure("usage:write")
    .input(upsertApiKeyInput)
    .mutation(({ ctx, input }) => upsertApiKey(ctx.runtime, input)),
  delete: protectedProcedure("usage:write")
    .input(deleteByIdInput)
    .mutation(({ ctx, input }) => deleteApiKey(ctx.runtime, input)),
  list: protectedProcedure("usage:read")
    .input(listApiKeysInput)
    .query(({ ctx, input }) => listApiKeys(ctx.runtime, input)),
});
