-- Issue 25: alerting on the ledger. Rules (a subject, a measure, a window, a condition), budgets
-- (a named amount per subject and period), channels (where notifications go, secrets encrypted),
-- silences, the state of each (rule, subject), every transition (alert_events), each notification
-- (a rule's transitions of one evaluation, grouped) and its deliveries with every attempt.
-- server/alerts/ reads and writes these; one evaluator at a time holds alert_leases' row.

CREATE TABLE alert_channels (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  kind        text NOT NULL CHECK (kind IN ('webhook', 'feishu', 'dingtalk', 'wecom', 'slack', 'telegram')),
  language    text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
  -- What may be shown again (Telegram's chat id, an API base URL): never a secret.
  settings    jsonb NOT NULL DEFAULT '{}',
  -- AES-256-GCM of the JSON of the secret fields (URLs that carry tokens, signing secrets, bot tokens).
  secret_ciphertext text NOT NULL,
  -- The target as shown back: scheme, host and the secret's last 4 characters.
  target_hint text NOT NULL,
  enabled     boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_budgets (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  subject_kind text NOT NULL CHECK (subject_kind IN ('all', 'account', 'api_key', 'model', 'platform')),
  subject_id   text CHECK ((subject_kind = 'all') = (subject_id IS NULL)),
  measure      text NOT NULL,
  period       text NOT NULL CHECK (period IN ('day', 'month')),
  -- In the measure's unit: USD for money (exact), a count otherwise.
  amount       numeric(30, 9) NOT NULL CHECK (amount > 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_budgets_subject_idx ON alert_budgets (subject_kind, subject_id);

CREATE TABLE alert_rules (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  enabled        boolean NOT NULL DEFAULT true,
  -- A budget rule takes its subject, measure and window from the budget (these stay NULL).
  budget_id      uuid REFERENCES alert_budgets (id) ON DELETE CASCADE,
  subject_kind   text CHECK (subject_kind IN ('all', 'account', 'api_key', 'model', 'platform', 'each_account', 'each_api_key')),
  subject_id     text,
  measure        text,
  window_kind    text CHECK (window_kind IN ('today', 'month', 'hours', 'days')),
  window_size    integer CHECK (window_size BETWEEN 1 AND 8760),
  condition      text NOT NULL CHECK (condition IN ('above', 'budget', 'spike')),
  -- above: the amount (measure's unit); budget: the percent of the budget; spike: the factor k.
  threshold      numeric(30, 9) NOT NULL CHECK (threshold > 0),
  spike_days     integer CHECK (spike_days BETWEEN 1 AND 60),
  spike_min      numeric(30, 9) CHECK (spike_min >= 0),
  for_seconds    integer NOT NULL DEFAULT 0 CHECK (for_seconds BETWEEN 0 AND 604800),
  repeat_seconds integer NOT NULL DEFAULT 14400 CHECK (repeat_seconds BETWEEN 0 AND 2592000),
  channel_ids    uuid[] NOT NULL DEFAULT '{}',
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK ((condition = 'budget') = (budget_id IS NOT NULL)),
  CHECK (condition = 'budget' OR (subject_kind IS NOT NULL AND measure IS NOT NULL AND window_kind IS NOT NULL)),
  CHECK ((condition = 'spike') = (spike_days IS NOT NULL))
);
CREATE INDEX alert_rules_budget_idx ON alert_rules (budget_id);

-- The state of a (rule, subject): subject_key is '' for a rule of one subject, the account's or
-- key's id for an "each" rule. No row: ok. `version` makes each transition a compare-and-set.
CREATE TABLE alert_states (
  rule_id          uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
  subject_key      text NOT NULL,
  state            text NOT NULL CHECK (state IN ('pending', 'firing')),
  value            numeric(40, 9) NOT NULL,
  threshold        numeric(40, 9) NOT NULL,
  since            timestamptz NOT NULL,
  firing_since     timestamptz,
  -- NULL while firing: no notification went out yet (silenced, or no channel).
  notified_at      timestamptz,
  evaluated_at     timestamptz NOT NULL,
  version          bigint NOT NULL DEFAULT 1,
  PRIMARY KEY (rule_id, subject_key)
);

CREATE TABLE alert_silences (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- NULL: every rule.
  rule_id     uuid REFERENCES alert_rules (id) ON DELETE CASCADE,
  -- NULL: every subject; else an account's / key's id (or '' for a rule's one subject).
  subject_key text,
  starts_at   timestamptz NOT NULL,
  ends_at     timestamptz NOT NULL,
  comment     text NOT NULL DEFAULT '',
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);
CREATE INDEX alert_silences_ends_idx ON alert_silences (ends_at);

-- A notification: one rule's transitions of one kind in one evaluation (grouped), sent to each of
-- the rule's channels. `payload` holds the figures; each channel formats it in its language.
CREATE TABLE alert_notifications (
  id         bigserial PRIMARY KEY,
  rule_id    uuid REFERENCES alert_rules (id) ON DELETE SET NULL,
  kind       text NOT NULL CHECK (kind IN ('firing', 'repeat', 'resolved', 'test')),
  payload    jsonb NOT NULL,
  created_at timestamptz NOT NULL
);

-- Every transition, kept when the rule is gone (rule_name and subject_name say what it was).
CREATE TABLE alert_events (
  id              bigserial PRIMARY KEY,
  rule_id         uuid REFERENCES alert_rules (id) ON DELETE SET NULL,
  rule_name       text NOT NULL,
  subject_kind    text NOT NULL,
  subject_key     text NOT NULL,
  subject_name    text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('pending', 'firing', 'repeat', 'resolved', 'inactive')),
  value           numeric(40, 9) NOT NULL,
  threshold       numeric(40, 9) NOT NULL,
  silenced        boolean NOT NULL DEFAULT false,
  notification_id bigint REFERENCES alert_notifications (id) ON DELETE SET NULL,
  at              timestamptz NOT NULL
);
CREATE INDEX alert_events_at_idx ON alert_events (at DESC, id DESC);
CREATE INDEX alert_events_rule_idx ON alert_events (rule_id, at DESC);
CREATE INDEX alert_events_subject_idx ON alert_events (subject_key, at DESC);

CREATE TABLE alert_deliveries (
  id              bigserial PRIMARY KEY,
  notification_id bigint NOT NULL REFERENCES alert_notifications (id) ON DELETE CASCADE,
  channel_id      uuid REFERENCES alert_channels (id) ON DELETE SET NULL,
  channel_name    text NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  -- While 'sending': the claim of one process; past it another may try again.
  claimed_until   timestamptz,
  last_error      text,
  sent_at         timestamptz,
  created_at      timestamptz NOT NULL
);
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX alert_deliveries_notification_idx ON alert_deliveries (notification_id);
CREATE INDEX alert_deliveries_channel_idx ON alert_deliveries (channel_id, created_at DESC);

CREATE TABLE alert_delivery_attempts (
  id          bigserial PRIMARY KEY,
  delivery_id bigint NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
  attempt     integer NOT NULL,
  at          timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  http_status integer,
  ok          boolean NOT NULL,
  error       text
);
CREATE INDEX alert_delivery_attempts_delivery_idx ON alert_delivery_attempts (delivery_id, attempt);

-- The evaluator's lease (one row per kind of work: 'evaluator').
CREATE TABLE alert_leases (
  name        text PRIMARY KEY,
  owner       text,
  lease_until timestamptz
);
INSERT INTO alert_leases (name) VALUES ('evaluator');
