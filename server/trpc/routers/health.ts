import { health } from "../../health/health.service";
import { createTRPCRouter, protectedProcedure } from "../init";

export const healthRouter = createTRPCRouter({
  get: protectedProcedure("usage:read").query(({ ctx }) => health(ctx.runtime)),
});
