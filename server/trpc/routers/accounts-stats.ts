import { AppError } from "../../errors";
import { accountBreakdownPageInput, accountSummaryInput, accountTrendInput, accountUsageListInput } from "../../usage-stats/schemas";
import { getAccountBreakdown, getAccountSummary, listAccountUsage } from "../../usage-stats/stats.service";
import { getAccountTrend } from "../../usage-stats/trend.service";
import { protectedProcedure } from "../init";

/**
 * accounts.usageStats / summary / breakdown, spread into the accounts router. summary and breakdown
 * are heavier: clients should send them unbatched (splitLink) so a light call is never held back.
 */

function jsonOnly(format: "json" | "csv") {
  if (format === "csv") {
    throw new AppError("BAD_REQUEST", "format=csv is available only from the REST route", { issues: [{ path: "format", message: "use the REST route for CSV" }] });
  }
}

export const accountStatsProcedures = {
  usageStats: protectedProcedure("usage:read")
    .input(accountUsageListInput)
    .query(({ ctx, input }) => (jsonOnly(input.format), listAccountUsage(ctx.runtime, input))),
  summary: protectedProcedure("usage:read")
    .input(accountSummaryInput)
    .query(({ ctx, input }) => getAccountSummary(ctx.runtime, input)),
  breakdown: protectedProcedure("usage:read")
    .input(accountBreakdownPageInput)
    .query(({ ctx, input }) => (jsonOnly(input.format), getAccountBreakdown(ctx.runtime, input))),
  trend: protectedProcedure("usage:read")
    .input(accountTrendInput)
    .query(({ ctx, input }) => getAccountTrend(ctx.runtime, input)),
};
