import { deleteAccount, listAccounts, upsertAccount } from "../../accounts/accounts.service";
import { deleteByIdInput, listAccountsInput, upsertAccountInput } from "../../accounts/schemas";
import { createTRPCRouter, protectedProcedure } from "../init";
import { accountStatsProcedures } from "./accounts-stats";

/** accounts.* — metadata upserts (recording issue) and usage statistics (read path). */
export const accountsRouter = createTRPCRouter({
  ...accountStatsProcedures,
  upsert: protectedProcedure("usage:write")
    .input(upsertAccountInput)
    .mutation(({ ctx, input }) => upsertAccount(ctx.runtime, input)),
  delete: protectedProcedure("usage:write")
    .input(deleteByIdInput)
    .mutation(({ ctx, input }) => deleteAccount(ctx.runtime, input)),
  list: protectedProcedure("usage:read")
    .input(listAccountsInput)
    .query(({ ctx, input }) => listAccounts(ctx.runtime, input)),
});
