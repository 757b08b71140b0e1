import { createTRPCRouter } from "../init";

export const usageRouter = createTRPCRouter({});
