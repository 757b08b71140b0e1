import { deleteApiKey, listApiKeys, upsertApiKey } from "../../accounts/accounts.service";
import { deleteByIdInput, listApiKeysInput, upsertApiKeyInput } from "../../accounts/schemas";
import { keyUsagePageInput } from "../../usage-stats/schemas";
import { listKeyUsage } from "../../usage-stats/keys.service";
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
  /** Keys across every account in a range, keyset-paged by `cursor` (tRPC's infinite queries drive it); CSV from the REST route. */
  usageStats: protectedProcedure("usage:read")
    .input(keyUsagePageInput)
    .query(({ ctx, input }) => listKeyUsage(ctx.runtime, input)),
});
