import {
  alertHistory,
  alertOverview,
  createBudget,
  createRule,
  createSilence,
  endSilence,
  getRule,
  listAlertBudgets,
  listAlertRules,
  listAlertSilences,
  removeBudget,
  removeRule,
  replaceBudget,
  replaceRule,
  setRuleEnabled,
} from "../../alerts/alerts.service";
import { byIdInput, createBudgetInput, createRuleInput, createSilenceInput, historyInput, overviewInput, setEnabledInput, updateBudgetInput, updateRuleInput } from "../../alerts/schemas";
import { createChannel, deleteChannel, getChannel, listChannels, sendTestMessage, updateChannel } from "../../alerts/channels.service";
import { channelIdInput, createChannelInput, listDeliveriesInput, updateChannelInput } from "../../alerts/channels.schemas";
import { listDeliveries } from "../../alerts/delivery.service";
import { createTRPCRouter, protectedProcedure } from "../init";

/** Alerts: reading them needs usage:read; changing rules, budgets, silences and channels needs admin. */
export const alertsRouter = createTRPCRouter({
  overview: protectedProcedure("usage:read")
    .input(overviewInput)
    .query(({ ctx, input }) => alertOverview(ctx.runtime, input)),
  history: protectedProcedure("usage:read")
    .input(historyInput)
    .query(({ ctx, input }) => alertHistory(ctx.runtime, input)),
  rules: createTRPCRouter({
    list: protectedProcedure("usage:read").query(({ ctx }) => listAlertRules(ctx.runtime)),
    get: protectedProcedure("usage:read")
      .input(byIdInput)
      .query(({ ctx, input }) => getRule(ctx.runtime, input)),
    create: protectedProcedure("admin")
      .input(createRuleInput)
      .mutation(({ ctx, input }) => createRule(ctx.runtime, input)),
    update: protectedProcedure("admin")
      .input(updateRuleInput)
      .mutation(({ ctx, input }) => replaceRule(ctx.runtime, input)),
    setEnabled: protectedProcedure("admin")
      .input(setEnabledInput)
      .mutation(({ ctx, input }) => setRuleEnabled(ctx.runtime, input)),
    delete: protectedProcedure("admin")
      .input(byIdInput)
      .mutation(({ ctx, input }) => removeRule(ctx.runtime, input)),
  }),
  budgets: createTRPCRouter({
    list: protectedProcedure("usage:read").query(({ ctx }) => listAlertBudgets(ctx.runtime)),
    create: protectedProcedure("admin")
      .input(createBudgetInput)
      .mutation(({ ctx, input }) => createBudget(ctx.runtime, input)),
    update: protectedProcedure("admin")
      .input(updateBudgetInput)
      .mutation(({ ctx, input }) => replaceBudget(ctx.runtime, input)),
    delete: protectedProcedure("admin")
      .input(byIdInput)
      .mutation(({ ctx, input }) => removeBudget(ctx.runtime, input)),
  }),
  /** Deliveries of notifications with every attempt (the history's detail). */
  deliveries: protectedProcedure("usage:read")
    .input(listDeliveriesInput)
    .query(({ ctx, input }) => listDeliveries(ctx.runtime, input)),
  channels: createTRPCRouter({
    list: protectedProcedure("usage:read").query(({ ctx }) => listChannels(ctx.runtime)),
    get: protectedProcedure("usage:read")
      .input(channelIdInput)
      .query(({ ctx, input }) => getChannel(ctx.runtime, input.id)),
    create: protectedProcedure("admin")
      .input(createChannelInput)
      .mutation(({ ctx, input }) => createChannel(ctx.runtime, input)),
    update: protectedProcedure("admin")
      .input(updateChannelInput)
      .mutation(({ ctx, input }) => updateChannel(ctx.runtime, input)),
    delete: protectedProcedure("admin")
      .input(channelIdInput)
      .mutation(({ ctx, input }) => deleteChannel(ctx.runtime, input.id)),
    /** One attempt now; the answer says how it went (a failed send is not an error). */
    test: protectedProcedure("admin")
      .input(channelIdInput)
      .mutation(({ ctx, input }) => sendTestMessage(ctx.runtime, input.id)),
  }),
  silences: createTRPCRouter({
    list: protectedProcedure("usage:read").query(({ ctx }) => listAlertSilences(ctx.runtime)),
    create: protectedProcedure("admin")
      .input(createSilenceInput)
      .mutation(({ ctx, input }) => createSilence(ctx.runtime, input, ctx.principal.name)),
    end: protectedProcedure("admin")
      .input(byIdInput)
      .mutation(({ ctx, input }) => endSilence(ctx.runtime, input)),
  }),
});
