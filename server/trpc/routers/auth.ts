import { createTRPCRouter } from "../init";

export const authRouter = createTRPCRouter({});
