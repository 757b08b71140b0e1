import { recordUsageInput } from "../../usage/schemas";
import { recordUsage } from "../../usage/usage.service";
import { createTRPCRouter, protectedProcedure } from "../init";

export const usageRouter = createTRPCRouter({
  record: protectedProcedure("usage:write")
    .input(recordUsageInput)
    .mutation(({ ctx, input }) => recordUsage(ctx.runtime, input)),
});
