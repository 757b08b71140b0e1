import { createTRPCRouter } from "../init";

export const apiKeysRouter = createTRPCRouter({});
