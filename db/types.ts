import type { ColumnType, Generated, Kysely, Selectable } from "kysely";
import type { MEASURES } from "./measures";

/** Money columns (NUMERIC) come back as exact decimal strings; see db/client.ts. */
type Numeric = ColumnType<string, string | number, string | number>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json = ColumnType<Record<string, unknown>, string, string>;

export interface AccountsTable {
  id: string;
  name: string;
  platform: Generated<string>;
  type: Generated<string>;
  status: Generated<string>;
  priority: Generated<number>;
  metadata: ColumnType<Record<string, unknown>, string | undefined, string>;
  /** The relays that fed this account ('crs', 'sub2api' …); empty: the REST API alone. */
  sources: ColumnType<string[], string[] | undefined, string[]>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: Timestamp | null;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  account_id: string | null;
  status: Generated<string>;
  hashed_key: string | null;
  daily_cost_limit: Numeric | null;
  total_cost_limit: Numeric | null;
  total_cost_accumulated: ColumnType<string, string | number | undefined, string | number>;
  last_used_at: Timestamp | null;
  metadata: ColumnType<Record<string, unknown>, string | undefined, string>;
  /** The relay this key came from ('crs', 'sub2api' …); null: the REST API. */
  source: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: Timestamp | null;
}

type Spec = (typeof MEASURES)[number];

/** The count measures of a request (db/measures.ts), summed as they are in every rollup. */
export type TokenMeasures = { [K in Extract<Spec, { kind: "count" }> as K["recordColumn"]]: number };

/**
 * The money measures of usage_records: exact NUMERIC USD; one that defaults to another measure
 * (the rated cost) is null when equal to it (0006_rated_cost.sql).
 */
type RecordMoney = {
  [K in Extract<Spec, { kind: "money" }> as K["recordColumn"]]: K extends { input: { defaultsTo: string } } ? Numeric | null : Numeric;
};

export interface UsageRecordsTable extends TokenMeasures, RecordMoney {
  request_id: string;
  occurred_at: Timestamp;
  /** The local date in USAGE_TIMEZONE, as YYYY-MM-DD. */
  usage_date: string;
  usage_hour: number;
  account_id: string;
  api_key_id: string;
  model: string;
  cost_breakdown: Json | null;
  metadata: Json | null;
}

/** The measures every rollup carries: integers, money in nano-USD. Sums come back as numbers (int8) or strings (numeric). */
export type RollupMeasures = { [K in Spec as K["column"]]: number } & { last_used_at: Date | null };

export interface AccountDailyTable extends RollupMeasures { account_id: string; usage_date: string }
export interface AccountMonthlyTable extends RollupMeasures { account_id: string; usage_month: string }
export interface AccountTotalsTable extends RollupMeasures { account_id: string }
export interface KeyDailyTable extends RollupMeasures { account_id: string; usage_date: string; api_key_id: string; last_model: string | null }
export interface KeyMonthlyTable extends RollupMeasures { account_id: string; usage_month: string; api_key_id: string; last_model: string | null }
export interface KeyTotalsTable extends RollupMeasures { account_id: string; api_key_id: string; last_model: string | null }
export interface ModelDailyTable extends RollupMeasures { account_id: string; usage_date: string; model: string }
export interface ModelMonthlyTable extends RollupMeasures { account_id: string; usage_month: string; model: string }
export interface ModelTotalsTable extends RollupMeasures { account_id: string; model: string }

/**
 * The SQL side of the measure registry (0011_measures_registry.sql): insert_usage_batch and the
 * rollup statement are generated from these rows; usage_add_measure() adds one.
 */
export interface UsageMeasuresTable {
  position: number;
  /** The API name (camelCase), as in db/measures.ts. */
  name: string;
  kind: "count" | "money";
  record_column: string;
  rollup_column: string;
  record_sum: string;
  input_type: string | null;
  insert_expr: string;
}

export interface SchemaMigrationsTable {
  name: string;
  checksum: string;
  applied_at: Generated<Date>;
}

export interface UsageSettingsTable {
  key: string;
  value: string;
  updated_at: Generated<Date>;
}

/** What the raw rows of months dropped by retention held, per key × model × local day × kind (0017). */
export interface UsageExpiredCoverageTable {
  api_key_id: string;
  model: string;
  usage_date: string;
  kind: string;
  /** usage_records column → its sum (money as decimal USD). */
  sums: Json;
}

export interface AdminUsersTable {
  username: string;
  password_hash: string;
  password_source: "env" | "generated" | "set";
  password_changed_at: Timestamp;
  created_at: Generated<Date>;
}

export interface AdminSessionsTable {
  token_hash: string;
  username: string;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  scope: "usage:read" | "usage:write" | "metrics" | "admin";
  token_hash: string;
  token_prefix: string;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface CrsFollowerKeysTable {
  source: string;
  key_id: string;
  total_requests: number;
  newest_record_id: string | null;
  gap_since: Timestamp | null;
  updated_at: Generated<Date>;
}

export interface SourceStatusTable {
  source: string;
  kind: string;
  cursor: ColumnType<Record<string, unknown>, string | undefined, string>;
  rows_read: Generated<number>;
  lease_owner: string | null;
  lease_until: Timestamp | null;
  started_at: Generated<Date>;
  global_requests: Generated<number>;
  last_read_at: Timestamp | null;
  last_event_at: Timestamp | null;
  events_recorded: Generated<number>;
  gaps_filled: Generated<number>;
  gap_requests: Generated<number>;
  errors: Generated<number>;
  last_error: string | null;
  last_error_at: Timestamp | null;
  rejected: Generated<number>;
  rejections: ColumnType<Record<string, unknown>, string | undefined, string>;
  last_rejection: string | null;
  last_rejection_at: Timestamp | null;
  consecutive_errors: Generated<number>;
}

export interface AlertChannelsTable {
  id: Generated<string>;
  name: string;
  kind: "webhook" | "feishu" | "dingtalk" | "wecom" | "slack" | "telegram";
  language: ColumnType<"zh-CN" | "en", "zh-CN" | "en" | undefined, "zh-CN" | "en">;
  settings: ColumnType<Record<string, unknown>, string | undefined, string>;
  secret_ciphertext: string;
  target_hint: string;
  enabled: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface AlertBudgetsTable {
  id: Generated<string>;
  name: string;
  subject_kind: "all" | "account" | "api_key" | "model" | "platform";
  subject_id: string | null;
  measure: string;
  period: "day" | "month";
  amount: Numeric;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface AlertRulesTable {
  id: Generated<string>;
  name: string;
  enabled: Generated<boolean>;
  budget_id: string | null;
  subject_kind: "all" | "account" | "api_key" | "model" | "platform" | "each_account" | "each_api_key" | null;
  subject_id: string | null;
  measure: string | null;
  window_kind: "today" | "month" | "hours" | "days" | null;
  window_size: number | null;
  condition: "above" | "budget" | "spike";
  threshold: Numeric;
  spike_days: number | null;
  spike_min: Numeric | null;
  for_seconds: Generated<number>;
  repeat_seconds: Generated<number>;
  channel_ids: ColumnType<string[], string[] | undefined, string[]>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface AlertStatesTable {
  rule_id: string;
  subject_key: string;
  state: "pending" | "firing";
  value: Numeric;
  threshold: Numeric;
  since: Timestamp;
  firing_since: Timestamp | null;
  notified_at: Timestamp | null;
  evaluated_at: Timestamp;
  version: Generated<number>;
}

export interface AlertSilencesTable {
  id: Generated<string>;
  rule_id: string | null;
  subject_key: string | null;
  starts_at: Timestamp;
  ends_at: Timestamp;
  comment: Generated<string>;
  created_by: string;
  created_at: Generated<Date>;
}

export interface AlertNotificationsTable {
  id: Generated<number>;
  rule_id: string | null;
  kind: "firing" | "repeat" | "resolved" | "test";
  payload: Json;
  created_at: Timestamp;
}

export interface AlertEventsTable {
  id: Generated<number>;
  rule_id: string | null;
  rule_name: string;
  subject_kind: string;
  subject_key: string;
  subject_name: string;
  kind: "pending" | "firing" | "repeat" | "resolved" | "inactive";
  value: Numeric;
  threshold: Numeric;
  silenced: Generated<boolean>;
  notification_id: number | null;
  at: Timestamp;
}

export interface AlertDeliveriesTable {
  id: Generated<number>;
  notification_id: number;
  channel_id: string | null;
  channel_name: string;
  status: ColumnType<"pending" | "sending" | "sent" | "failed", "pending" | "sending" | "sent" | "failed" | undefined, "pending" | "sending" | "sent" | "failed">;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  claimed_until: Timestamp | null;
  last_error: string | null;
  sent_at: Timestamp | null;
  created_at: Timestamp;
}

export interface AlertDeliveryAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  attempt: number;
  at: Timestamp;
  duration_ms: number;
  http_status: number | null;
  ok: boolean;
  error: string | null;
}

export interface Database {
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  usage_records: UsageRecordsTable;
  usage_request_ids: { account_id: string; request_id: string; occurred_at: Timestamp };
  crs_follower_keys: CrsFollowerKeysTable;
  source_status: SourceStatusTable;
  usage_account_daily: AccountDailyTable;
  usage_account_monthly: AccountMonthlyTable;
  usage_account_totals: AccountTotalsTable;
  usage_key_daily: KeyDailyTable;
  usage_key_monthly: KeyMonthlyTable;
  usage_key_totals: KeyTotalsTable;
  usage_model_daily: ModelDailyTable;
  usage_model_monthly: ModelMonthlyTable;
  usage_model_totals: ModelTotalsTable;
  schema_migrations: SchemaMigrationsTable;
  usage_settings: UsageSettingsTable;
  usage_expired_coverage: UsageExpiredCoverageTable;
  usage_measures: UsageMeasuresTable;
  admin_users: AdminUsersTable;
  admin_sessions: AdminSessionsTable;
  api_tokens: ApiTokensTable;
  alert_channels: AlertChannelsTable;
  alert_budgets: AlertBudgetsTable;
  alert_rules: AlertRulesTable;
  alert_states: AlertStatesTable;
  alert_silences: AlertSilencesTable;
  alert_notifications: AlertNotificationsTable;
  alert_events: AlertEventsTable;
  alert_deliveries: AlertDeliveriesTable;
  alert_delivery_attempts: AlertDeliveryAttemptsTable;
  alert_leases: { name: string; owner: string | null; lease_until: Timestamp | null };
}

/** What repositories take first: the database, or a transaction on it. */
export type Db = Kysely<Database>;

export type Account = Selectable<AccountsTable>;
export type ApiKey = Selectable<ApiKeysTable>;

/** Every rollup table (see 0001_init.sql); rebuilt together from usage_records. */
export const ROLLUP_TABLES = [
  "usage_account_daily",
  "usage_account_monthly",
  "usage_account_totals",
  "usage_key_daily",
  "usage_key_monthly",
  "usage_key_totals",
  "usage_model_daily",
  "usage_model_monthly",
  "usage_model_totals",
] as const satisfies readonly (keyof Database)[];
