import { createTRPCRouter } from "../init";
import { accountsRouter } from "./accounts";
import { alertsRouter } from "./alerts";
import { apiKeysRouter } from "./api-keys";
import { authRouter } from "./auth";
import { healthRouter } from "./health";
import { usageRouter } from "./usage";

export const appRouter = createTRPCRouter({
  accounts: accountsRouter,
  alerts: alertsRouter,
  apiKeys: apiKeysRouter,
  auth: authRouter,
  health: healthRouter,
  usage: usageRouter,
});

export type AppRouter = typeof appRouter;
