-- Accounts, API keys, raw usage (partitioned by month) and the rollups the read path uses.
-- Money: raw cost is NUMERIC(20,8) USD exactly as reported; rollups keep integer nano-USD
-- (1e-9 USD) so that the 8 decimals an event may carry add up exactly in bigint arithmetic.

CREATE TABLE accounts (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  platform    text NOT NULL DEFAULT 'unknown',
  type        text NOT NULL DEFAULT 'shared',
  status      text NOT NULL DEFAULT 'active',
  priority    integer NOT NULL DEFAULT 50,
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);
CREATE INDEX accounts_platform_idx ON accounts (platform) WHERE deleted_at IS NULL;
CREATE INDEX accounts_name_idx ON accounts (lower(name));

CREATE TABLE api_keys (
  id                      text PRIMARY KEY,
  name                    text NOT NULL,
  account_id              text,
  status                  text NOT NULL DEFAULT 'active',
  hashed_key              text,
  daily_cost_limit        numeric(20, 8),
  total_cost_limit        numeric(20, 8),
  total_cost_accumulated  numeric(24, 8) NOT NULL DEFAULT 0,
  last_used_at            timestamptz,
  metadata                jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  deleted_at              timestamptz
);
CREATE INDEX api_keys_account_idx ON api_keys (account_id);

-- The idempotency key. A unique index on a partitioned table must contain the partition key,
-- so request_id uniqueness across all months lives in this plain table; usage_records only
-- receives rows whose request_id was inserted here by the same statement.
CREATE TABLE usage_request_ids (
  request_id   text PRIMARY KEY,
  occurred_at  timestamptz NOT NULL
);

CREATE TABLE usage_records (
  request_id           text NOT NULL,
  occurred_at          timestamptz NOT NULL,
  usage_date           date NOT NULL,
  usage_hour           smallint NOT NULL CHECK (usage_hour BETWEEN 0 AND 23),
  account_id           text NOT NULL,
  api_key_id           text NOT NULL,
  model                text NOT NULL,
  requests             integer NOT NULL DEFAULT 1 CHECK (requests >= 0),
  input_tokens         bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
  output_tokens        bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
  cache_create_tokens  bigint NOT NULL DEFAULT 0 CHECK (cache_create_tokens >= 0),
  cache_read_tokens    bigint NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
  ephemeral_5m_tokens  bigint NOT NULL DEFAULT 0 CHECK (ephemeral_5m_tokens >= 0),
  ephemeral_1h_tokens  bigint NOT NULL DEFAULT 0 CHECK (ephemeral_1h_tokens >= 0),
  total_tokens         bigint NOT NULL DEFAULT 0 CHECK (total_tokens >= 0),
  total_cost           numeric(20, 8) NOT NULL DEFAULT 0 CHECK (total_cost >= 0),
  cost_breakdown       jsonb,
  metadata             jsonb
) PARTITION BY RANGE (occurred_at);
CREATE INDEX usage_records_account_date_idx ON usage_records (account_id, usage_date);
CREATE INDEX usage_records_key_date_idx ON usage_records (api_key_id, usage_date);

-- Partitions: one per UTC calendar month, named usage_records_pYYYYMM.
CREATE FUNCTION ensure_usage_partition(p_month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  m date := date_trunc('month', p_month)::date;
  part text := format('usage_records_p%s', to_char(m, 'YYYYMM'));
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  -- Two writers creating the same month at once: the second waits, then sees it exists.
  PERFORM pg_advisory_xact_lock(hashtext('usage_records_partition'));
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format(
    'CREATE TABLE %I PARTITION OF usage_records FOR VALUES FROM (%L) TO (%L)',
    part,
    (m::timestamp AT TIME ZONE 'UTC'),
    ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC')
  );
  RETURN true;
END $$;

CREATE FUNCTION ensure_usage_partitions(p_from date, p_to date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  m date := date_trunc('month', p_from)::date;
  created integer := 0;
BEGIN
  WHILE m <= p_to LOOP
    IF ensure_usage_partition(m) THEN
      created := created + 1;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN created;
END $$;

-- A year back and three months ahead from the day of migration; the app extends this daily.
SELECT ensure_usage_partitions((now() - interval '12 months')::date, (now() + interval '3 months')::date);

-- Rollups. Every one has the same measures; `*_monthly` use the first day of the month.
CREATE TABLE usage_account_daily (
  account_id text NOT NULL, usage_date date NOT NULL,
  requests bigint NOT NULL DEFAULT 0, input_tokens bigint NOT NULL DEFAULT 0, output_tokens bigint NOT NULL DEFAULT 0,
  cache_create_tokens bigint NOT NULL DEFAULT 0, cache_read_tokens bigint NOT NULL DEFAULT 0,
  ephemeral_5m_tokens bigint NOT NULL DEFAULT 0, ephemeral_1h_tokens bigint NOT NULL DEFAULT 0,
  total_tokens bigint NOT NULL DEFAULT 0, cost_nanos bigint NOT NULL DEFAULT 0, last_used_at timestamptz,
  PRIMARY KEY (account_id, usage_date)
);
CREATE INDEX usage_account_daily_date_idx ON usage_account_daily (usage_date);

CREATE TABLE usage_account_monthly (LIKE usage_account_daily INCLUDING DEFAULTS);
ALTER TABLE usage_account_monthly RENAME COLUMN usage_date TO usage_month;
ALTER TABLE usage_account_monthly ADD PRIMARY KEY (account_id, usage_month);
CREATE INDEX usage_account_monthly_month_idx ON usage_account_monthly (usage_month);

CREATE TABLE usage_account_totals (LIKE usage_account_daily INCLUDING DEFAULTS);
ALTER TABLE usage_account_totals DROP COLUMN usage_date;
ALTER TABLE usage_account_totals ADD PRIMARY KEY (account_id);

CREATE TABLE usage_key_daily (LIKE usage_account_daily INCLUDING DEFAULTS);
ALTER TABLE usage_key_daily ADD COLUMN api_key_id text NOT NULL, ADD COLUMN last_model text;
ALTER TABLE usage_key_daily ADD PRIMARY KEY (account_id, usage_date, api_key_id);

CREATE TABLE usage_key_monthly (LIKE usage_key_daily INCLUDING DEFAULTS);
ALTER TABLE usage_key_monthly RENAME COLUMN usage_date TO usage_month;
ALTER TABLE usage_key_monthly ADD PRIMARY KEY (account_id, usage_month, api_key_id);

CREATE TABLE usage_key_totals (LIKE usage_key_daily INCLUDING DEFAULTS);
ALTER TABLE usage_key_totals DROP COLUMN usage_date;
ALTER TABLE usage_key_totals ADD PRIMARY KEY (account_id, api_key_id);

CREATE TABLE usage_model_daily (LIKE usage_account_daily INCLUDING DEFAULTS);
ALTER TABLE usage_model_daily ADD COLUMN model text NOT NULL;
ALTER TABLE usage_model_daily ADD PRIMARY KEY (account_id, usage_date, model);

CREATE TABLE usage_model_monthly (LIKE usage_model_daily INCLUDING DEFAULTS);
ALTER TABLE usage_model_monthly RENAME COLUMN usage_date TO usage_month;
ALTER TABLE usage_model_monthly ADD PRIMARY KEY (account_id, usage_month, model);

CREATE TABLE usage_model_totals (LIKE usage_model_daily INCLUDING DEFAULTS);
ALTER TABLE usage_model_totals DROP COLUMN usage_date;
ALTER TABLE usage_model_totals ADD PRIMARY KEY (account_id, model);

-- Which time zone usage_date / rollups were computed in (see db:rebuild-rollups).
CREATE TABLE usage_settings (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TYPE usage_agg_row AS (
  account_id text, api_key_id text, model text, usage_date date,
  requests bigint, input_tokens bigint, output_tokens bigint, cache_create_tokens bigint,
  cache_read_tokens bigint, ephemeral_5m_tokens bigint, ephemeral_1h_tokens bigint,
  total_tokens bigint, cost_nanos bigint, last_used_at timestamptz
);

-- Adds aggregated rows (one per account x key x model x day) to every rollup. Shared by the
-- trigger and by db:rebuild-rollups. Rows are ordered by key so that concurrent batches take
-- row locks in the same order and never deadlock.
CREATE FUNCTION usage_rollup_upsert(p_rows usage_agg_row[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO usage_account_daily AS t (account_id, usage_date, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
  SELECT account_id, usage_date, sum(requests), sum(input_tokens), sum(output_tokens), sum(cache_create_tokens), sum(cache_read_tokens), sum(ephemeral_5m_tokens), sum(ephemeral_1h_tokens), sum(total_tokens), sum(cost_nanos), max(last_used_at)
    FROM unnest(p_rows) GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (account_id, usage_date) DO UPDATE SET
    requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
    cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
    ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
    cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at);

  INSERT INTO usage_account_monthly AS t (account_id, usage_month, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
  SELECT account_id, date_trunc('month', usage_date)::date, sum(requests), sum(input_tokens), sum(output_tokens), sum(cache_create_tokens), sum(cache_read_tokens), sum(ephemeral_5m_tokens), sum(ephemeral_1h_tokens), sum(total_tokens), sum(cost_nanos), max(last_used_at)
    FROM unnest(p_rows) GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (account_id, usage_month) DO UPDATE SET
    requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
    cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
    ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
    cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at);

  INSERT INTO usage_account_totals AS t (account_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
  SELECT account_id, sum(requests), sum(input_tokens), sum(output_tokens), sum(cache_create_tokens), sum(cache_read_tokens), sum(ephemeral_5m_tokens), sum(ephemeral_1h_tokens), sum(total_tokens), sum(cost_nanos), max(last_used_at)
    FROM unnest(p_rows) GROUP BY 1 ORDER BY 1
  ON CONFLICT (account_id) DO UPDATE SET
    requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
    cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
    ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
    cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at);

  INSERT INTO usage_key_daily AS t (account_id, usage_date, api_key_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at, last_model)
  SELECT account_id, usage_date, api_key_id, sum(requests), sum(input_tokens), sum(output_tokens), sum(cache_create_tokens), sum(cache_read_tokens), sum(ephemeral_5m_tokens), sum(ephemeral_1h_tokens), sum(total_tokens), sum(cost_nanos), max(last_used_at),
         (array_agg(model ORDER BY last_used_at DESC, model))[1]
    FROM unnest(p_rows) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (account_id, usage_date, api_key_id) DO UPDATE SET
    requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
    cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
    ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
    cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at),
    last_model = CASE WHEN t.last_used_at IS NULL OR excluded.last_used_at >= t.last_used_at THEN excluded.last_model ELSE t.last_model END;

  INSERT INTO usage_key_monthly AS t (account_id, usage_month, api_key_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at, last_model)
  SELECT account_id, date_trunc('month', usage_date)::date, api_key_id, sum(requests), sum(input_tokens), sum(output_tokens), sum(cache_create_tokens), sum(cache_read_tokens), sum(ephemeral_5m_tokens), sum(ephemeral_1h_tokens), sum(total_tokens), sum(cost_nanos), max(last_used_at),
         (array_agg(model ORDER BY last_used_at DESC, model))[1]
    FROM unnest(p_rows) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (account_id, usage_month, api_key_id) DO UPDATE SET
    requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
    cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
    ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
    cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at),
    last_model = CASE WHEN t.last_used_at IS NULL OR excluded.last_used_at >= t.last_used_at THEN excluded.last_model ELSE t.last_model END;

  INSERT INTO usage_key_totals AS t (account_id, api_key_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at, last_model)
  SELECT account_id, api_key_id, sum(requests), sum(input_tokens), sum(output_tokens), sum(cache_create_tokens), sum(cache_read_tokens), sum(ephemeral_5m_tokens), sum(ephemeral_1h_tokens), sum(total_tokens), sum(cost_nanos), max(last_used_at),
         (array_agg(model ORDER BY last_used_at DESC, model))[1]
    FROM unnest(p_rows) GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (account_id, api_key_id) DO UPDATE SET
    requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
    cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
    ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
    cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at),
    last_model = CASE WHEN t.last_used_at IS NULL OR excluded.last_used_at >= t.last_used_at THEN excluded.last_model ELSE t.last_model END;

  INSERT INTO usage_model_daily AS t (account_id, usage_date, model, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
  SELECT account_id, usage_date, model, sum(requests), sum(input_tokens), sum(output_tokens), sum(cache_create_tokens), sum(cache_read_tokens), sum(ephemeral_5m_tokens), sum(ephemeral_1h_tokens), sum(total_tokens), sum(cost_nanos), max(last_used_at)
    FROM unnest(p_rows) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (account_id, usage_date, model) DO UPDATE SET
    requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
    cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
    ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
    cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at);

  INSERT INTO usage_model_monthly AS t (account_id, usage_month, model, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
  SELECT account_id, date_trunc('month', usage_date)::date, model, sum(requests), sum(input_tokens), sum(output_tokens), sum(cache_create_tokens), sum(cache_read_tokens), sum(ephemeral_5m_tokens), sum(ephemeral_1h_tokens), sum(total_tokens), sum(cost_nanos), max(last_used_at)
    FROM unnest(p_rows) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (account_id, usage_month, model) DO UPDATE SET
    requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
    cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
    ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
    cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at);

  INSERT INTO usage_model_totals AS t (account_id, model, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
  SELECT account_id, model, sum(requests), sum(input_tokens), sum(output_tokens), sum(cache_create_tokens), sum(cache_read_tokens), sum(ephemeral_5m_tokens), sum(ephemeral_1h_tokens), sum(total_tokens), sum(cost_nanos), max(last_used_at)
    FROM unnest(p_rows) GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (account_id, model) DO UPDATE SET
    requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
    cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
    ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
    cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at);
END $$;

-- Applies a set of freshly inserted usage rows (a transition table named new_usage) to every
-- rollup, to api_keys.total_cost_accumulated / last_used_at, and creates placeholder accounts
-- and keys for ids not seen before. Runs once per INSERT/COPY statement, in its transaction, and
-- sees only rows that statement actually inserted.
CREATE FUNCTION usage_records_apply_rollups() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO accounts (id, name, status)
  SELECT DISTINCT account_id, account_id, 'unknown' FROM new_usage ORDER BY 1
  ON CONFLICT (id) DO NOTHING;

  INSERT INTO api_keys (id, name, account_id, status)
  SELECT DISTINCT ON (api_key_id) api_key_id, api_key_id, account_id, 'unknown' FROM new_usage ORDER BY api_key_id
  ON CONFLICT (id) DO NOTHING;

  UPDATE api_keys k
     SET total_cost_accumulated = k.total_cost_accumulated + s.cost,
         last_used_at = GREATEST(k.last_used_at, s.last_used_at)
    FROM (SELECT api_key_id, sum(total_cost) AS cost, max(occurred_at) AS last_used_at
            FROM new_usage GROUP BY api_key_id) s
   WHERE k.id = s.api_key_id;

  PERFORM usage_rollup_upsert(ARRAY(
    SELECT ROW(account_id, api_key_id, model, usage_date,
           sum(requests), sum(input_tokens), sum(output_tokens), sum(cache_create_tokens),
           sum(cache_read_tokens), sum(ephemeral_5m_tokens), sum(ephemeral_1h_tokens),
           sum(total_tokens), sum(round(total_cost * 1000000000)), max(occurred_at))::usage_agg_row
      FROM new_usage GROUP BY account_id, api_key_id, model, usage_date));
  RETURN NULL;
END $$;

CREATE TRIGGER usage_records_rollups
  AFTER INSERT ON usage_records
  REFERENCING NEW TABLE AS new_usage
  FOR EACH STATEMENT EXECUTE FUNCTION usage_records_apply_rollups();

-- The one way rows enter usage_records from JSON: dedupes on request_id (within the batch too),
-- derives usage_date / usage_hour in p_tz, and returns the request ids actually inserted.
CREATE FUNCTION insert_usage_batch(p_events jsonb, p_tz text)
RETURNS TABLE (request_id text)
LANGUAGE sql AS $$
  WITH input AS (
    SELECT DISTINCT ON (x.request_id) x.*
      FROM jsonb_to_recordset(p_events) AS x(
        request_id text, occurred_at timestamptz, account_id text, api_key_id text, model text,
        requests integer, input_tokens bigint, output_tokens bigint, cache_create_tokens bigint,
        cache_read_tokens bigint, ephemeral_5m_tokens bigint, ephemeral_1h_tokens bigint,
        total_cost numeric, cost_breakdown jsonb, metadata jsonb)
     ORDER BY x.request_id
  ), fresh AS (
    INSERT INTO usage_request_ids (request_id, occurred_at)
    SELECT i.request_id, i.occurred_at FROM input i ORDER BY i.request_id
    ON CONFLICT DO NOTHING
    RETURNING usage_request_ids.request_id
  )
  INSERT INTO usage_records (request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model,
    requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens,
    ephemeral_1h_tokens, total_tokens, total_cost, cost_breakdown, metadata)
  SELECT i.request_id, i.occurred_at, (i.occurred_at AT TIME ZONE p_tz)::date,
         extract(hour FROM i.occurred_at AT TIME ZONE p_tz)::smallint,
         i.account_id, i.api_key_id, i.model, coalesce(i.requests, 1),
         coalesce(i.input_tokens, 0), coalesce(i.output_tokens, 0), coalesce(i.cache_create_tokens, 0),
         coalesce(i.cache_read_tokens, 0), coalesce(i.ephemeral_5m_tokens, 0), coalesce(i.ephemeral_1h_tokens, 0),
         coalesce(i.input_tokens, 0) + coalesce(i.output_tokens, 0) + coalesce(i.cache_create_tokens, 0) + coalesce(i.cache_read_tokens, 0),
         coalesce(i.total_cost, 0), i.cost_breakdown, i.metadata
    FROM input i JOIN fresh f ON f.request_id = i.request_id
  RETURNING usage_records.request_id
$$;
