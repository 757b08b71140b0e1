import { createTRPCRouter } from "../init";

/** accounts.* — metadata upserts (recording issue) and usage statistics (read path). */
export const accountsRouter = createTRPCRouter({});
