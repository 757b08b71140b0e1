import { TRPCClientError } from "@trpc/client";
import { describe, expect, it } from "vitest";
import { issuesFromZod } from "@/server/errors";
import { createBudgetInput, createRuleInput, type RuleView } from "@/server/alerts/schemas";
import { draftOf, inputOf, issuesByField, percentsOf, type RuleDraft } from "./drafts";

const BUDGET_ID = "6f1c2f0e-8a43-4c55-9d43-2f5b7c0d9a11";
const CHANNEL_ID = "0b7d3c1e-1f2a-4b3c-8d4e-5f6a7b8c9d0e";
const blank = (patch: Partial<RuleDraft>): RuleDraft => ({ ...draftOf(undefined, []), name: "r", ...patch });

/** What the API's zod error formatter would answer for this body, as the browser gets it. */
function apiError(body: unknown): TRPCClientError<never> {
  const parsed = createRuleInput.safeParse(body);
  if (parsed.success) throw new Error("expected the schema to refuse the body");
  return new TRPCClientError("Invalid input", { result: { error: { data: { issues: issuesFromZod(parsed.error) } } } } as never);
}

describe("the rule form's body", () => {
  it("is accepted by the API's schema for each condition, with the units converted", () => {
    expect(createRuleInput.parse(inputOf(blank({ amount: "50", forMinutes: "5", repeatHours: "0.5", channelIds: [CHANNEL_ID] })))).toEqual({
      name: "r",
      enabled: true,
      subject: { kind: "each_account" },
      measure: "cost",
      window: { kind: "today" },
      condition: { type: "above", amount: "50" },
      forSeconds: 300,
      repeatSeconds: 1800,
      channelIds: [CHANNEL_ID],
    });
    expect(createRuleInput.parse(inputOf(blank({ condition: "spike", subjectKind: "account", subjectId: " acc-1 ", windowKind: "hours", windowSize: "5", factor: "3", days: "7", minimum: "" })))).toMatchObject({
      subject: { kind: "account", id: "acc-1" },
      window: { kind: "hours", size: 5 },
      condition: { type: "spike", factor: "3", days: 7, minimum: "0" },
    });
    // A budget condition: the budget gives subject, measure and window, so none is sent.
    const budget = inputOf(blank({ condition: "budget", budgetId: BUDGET_ID, percent: "90" }));
    expect(budget).not.toHaveProperty("subject");
    expect(budget).not.toHaveProperty("window");
    expect(createRuleInput.parse(budget).condition).toEqual({ type: "budget", budgetId: BUDGET_ID, percent: "90" });
  });

  it("round-trips a rule the API answered", () => {
    const view: RuleView = {
      id: "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a",
      name: "keys over $50",
      enabled: false,
      budgetId: null,
      subject: { kind: "each_api_key", id: null, name: null },
      measure: "ratedCost",
      window: { kind: "days", size: 7 },
      condition: { type: "above", amount: "50.25" },
      forSeconds: 600,
      repeatSeconds: 0,
      channelIds: [CHANNEL_ID],
      states: [],
      createdAt: "2026-12-01T00:00:00.000Z",
      updatedAt: "2026-12-01T00:00:00.000Z",
    };
    expect(createRuleInput.parse(inputOf(draftOf(view, [])))).toEqual({
      name: "keys over $50",
      enabled: false,
      subject: { kind: "each_api_key" },
      measure: "ratedCost",
      window: { kind: "days", size: 7 },
      condition: { type: "above", amount: "50.25" },
      forSeconds: 600,
      repeatSeconds: 0,
      channelIds: [CHANNEL_ID],
    });
  });
});

describe("the API's issues by field", () => {
  const FIELDS = ["name", "subject.kind", "subject.id", "window.kind", "window.size", "condition.amount", "forSeconds"] as const;

  it("puts each issue next to its field, a parent's at its first field", () => {
    const { byField, rest } = issuesByField(apiError(inputOf(blank({ subjectKind: "account", subjectId: "", amount: "ten", windowKind: "hours", windowSize: "" }))), FIELDS);
    expect(Object.fromEntries(byField)).toEqual({
      "subject.id": "must not be empty",
      "window.size": "is required for a window of hours",
      "condition.amount": 'must be an amount in the measure\'s unit (USD for money): a decimal such as "12.5" (at most 15 digits and 9 decimals)',
    });
    expect(rest).toEqual([]);
    // "window" absent altogether is said at the window's first field.
    const noWindow = { ...inputOf(blank({ amount: "1" })), window: undefined };
    expect(Object.fromEntries(issuesByField(apiError(noWindow), FIELDS).byField)).toEqual({ "window.kind": "is required for a condition of type above" });
  });

  it("says what no field owns, and an error without issues, below the form", () => {
    const { byField, rest } = issuesByField(apiError({ ...inputOf(blank({ amount: "1" })), colour: "red" }), FIELDS);
    expect(byField.size).toBe(0);
    expect(rest).toHaveLength(1);
    expect(issuesByField(new Error("There are already 500 rules"), FIELDS)).toEqual({ byField: new Map(), rest: ["There are already 500 rules"] });
    expect(issuesByField(null, FIELDS)).toEqual({ byField: new Map(), rest: [] });
  });
});

describe("a budget's alert percents", () => {
  it("reads commas, full-width commas, spaces and % signs", () => {
    expect(percentsOf("80, 100%")).toEqual(["80", "100"]);
    expect(percentsOf("50，90 100")).toEqual(["50", "90", "100"]);
    expect(percentsOf(" ")).toEqual([]);
    expect(createBudgetInput.parse({ name: "b", subject: { kind: "all" }, period: "month", amount: "10", alertPercents: percentsOf("80,100") }).alertPercents).toEqual(["80", "100"]);
  });
});
