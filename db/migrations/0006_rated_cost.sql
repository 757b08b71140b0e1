-- Issue 13: the rated cost, a measure of its own. A relay such as claude-relay-service knows two
-- costs per request: the real one (what the upstream account cost: `total_cost`, `cost_nanos`)
-- and the rated one (real × the service's rate × the key's rate: what the key holder is charged).
-- Operators read the account's real cost and the key's rated cost.
--
-- usage_records.rated_cost is NULL when the event carried no ratedCost (it then equals the real
-- cost): the column is added without rewriting or scanning the ledger, and rows recorded before
-- this migration read as rated = real. The event schema bounds it like the cost (≥ 0, 8 decimals),
-- so no CHECK is added: validating one would scan every partition.
ALTER TABLE usage_records ADD COLUMN rated_cost numeric(20, 8);

-- Every rollup gets rated_cost_nanos, equal to cost_nanos for what was recorded so far.
ALTER TABLE usage_account_daily ADD COLUMN rated_cost_nanos bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_account_monthly ADD COLUMN rated_cost_nanos bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_account_totals ADD COLUMN rated_cost_nanos bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_key_daily ADD COLUMN rated_cost_nanos bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_key_monthly ADD COLUMN rated_cost_nanos bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_key_totals ADD COLUMN rated_cost_nanos bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_model_daily ADD COLUMN rated_cost_nanos bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_model_monthly ADD COLUMN rated_cost_nanos bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_model_totals ADD COLUMN rated_cost_nanos bigint NOT NULL DEFAULT 0;
UPDATE usage_account_daily SET rated_cost_nanos = cost_nanos;
UPDATE usage_account_monthly SET rated_cost_nanos = cost_nanos;
UPDATE usage_account_totals SET rated_cost_nanos = cost_nanos;
UPDATE usage_key_daily SET rated_cost_nanos = cost_nanos;
UPDATE usage_key_monthly SET rated_cost_nanos = cost_nanos;
UPDATE usage_key_totals SET rated_cost_nanos = cost_nanos;
UPDATE usage_model_daily SET rated_cost_nanos = cost_nanos;
UPDATE usage_model_monthly SET rated_cost_nanos = cost_nanos;
UPDATE usage_model_totals SET rated_cost_nanos = cost_nanos;

-- 0004's one rollup definition (a PL/pgSQL body cannot be patched in place: the function is
-- restated whole) with the new measure in its lists, and undated aggregates kept out of the days.
CREATE OR REPLACE FUNCTION usage_rollup_sql(p_source text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  -- Integer sums: the same column in usage_records, every level below and every rollup.
  counters text[] := ARRAY['requests', 'input_tokens', 'output_tokens', 'cache_create_tokens', 'cache_read_tokens',
                           'ephemeral_5m_tokens', 'ephemeral_1h_tokens', 'total_tokens'];
  -- Money: NUMERIC USD in usage_records (and summed as such, exactly), integer nano-USD in rollups.
  -- The expression sums a level's column; rated_cost is NULL in usage_records when it equals the
  -- real cost, and never NULL in the levels above (the coalesce is a no-op there).
  money text[] := ARRAY['total_cost', 'rated_cost'];
  money_expr text[] := ARRAY['total_cost', 'coalesce(rated_cost, total_cost)'];
  money_rollup text[] := ARRAY['cost_nanos', 'rated_cost_nanos'];
  sums text;
  mcols text;
  cols text;
  vals text;
  sets text;
  levels text;
  upserts text := '';
  t record;
BEGIN
  SELECT string_agg(format('sum(%I)::int8 AS %I', c, c), ', ') INTO sums FROM unnest(counters) c;
  SELECT sums || ', ' || string_agg(format('sum(%s) AS %I', x, m), ', ') INTO sums FROM unnest(money, money_expr) AS u(m, x);

  -- The measure columns of a level, for the rows the levels below add (undated residuals).
  SELECT string_agg(quote_ident(c), ', ') INTO mcols FROM unnest(counters || money) c;

  -- The levels: each summed once from the level below it (key × day → key × month → key;
  -- model × day → month → all time; model × day → account × day → month → all time). last_model
  -- is the model of the latest event, ties to the smallest name.
  --
  -- Undated events (issue 13): an aggregate known only for its month (metadata.crsAggregate =
  -- 'month', the residual of a CRS monthly bucket) counts in the month, all time and nowhere per day;
  -- one known only for all time ('alltime') counts in all time alone. Their usage_date (the
  -- bucket's start) only places them in a partition. So a daily series never shows a month's
  -- residual on its first day, and a monthly one never an all-time residual in some month.
  -- l1.undated: 0 dated, 1 month only, 2 all time only; *x levels are a level plus the undated rows
  -- the next level up adds.
  levels := format($q$
    l1 AS MATERIALIZED (
      SELECT account_id, api_key_id, model, usage_date,
             CASE metadata->>'crsAggregate' WHEN 'month' THEN 1 WHEN 'alltime' THEN 2 ELSE 0 END AS undated,
             %1$s, max(occurred_at) AS last_used_at
        FROM %2$s GROUP BY 1, 2, 3, 4, 5
    ), kd0 AS MATERIALIZED (
      SELECT account_id, api_key_id, usage_date, %1$s, max(last_used_at) AS last_used_at FROM l1 WHERE undated = 0 GROUP BY 1, 2, 3
    ), kd AS MATERIALIZED (
      SELECT k.*, lm.last_model
        FROM kd0 k JOIN (SELECT account_id, api_key_id, usage_date, min(model) AS last_model
                           FROM (SELECT * FROM l1 WHERE undated = 0) l JOIN kd0 USING (account_id, api_key_id, usage_date, last_used_at)
                          GROUP BY 1, 2, 3) lm USING (account_id, api_key_id, usage_date)
    ), kdx AS (
      SELECT account_id, api_key_id, usage_date, %3$s, last_used_at, last_model FROM kd
      UNION ALL
      SELECT account_id, api_key_id, usage_date, %3$s, last_used_at, model FROM l1 WHERE undated = 1
    ), km0 AS MATERIALIZED (
      SELECT account_id, api_key_id, date_trunc('month', usage_date)::date AS usage_month, %1$s, max(last_used_at) AS last_used_at
        FROM kdx GROUP BY 1, 2, 3
    ), km AS MATERIALIZED (
      SELECT k.*, lm.last_model
        FROM km0 k JOIN (SELECT account_id, api_key_id, usage_month, min(last_model) AS last_model
                           FROM (SELECT kdx.*, date_trunc('month', usage_date)::date AS usage_month FROM kdx) d
                           JOIN km0 USING (account_id, api_key_id, usage_month, last_used_at)
                          GROUP BY 1, 2, 3) lm USING (account_id, api_key_id, usage_month)
    ), kmx AS (
      SELECT account_id, api_key_id, %3$s, last_used_at, last_model FROM km
      UNION ALL
      SELECT account_id, api_key_id, %3$s, last_used_at, model FROM l1 WHERE undated = 2
    ), kt0 AS MATERIALIZED (
      SELECT account_id, api_key_id, %1$s, max(last_used_at) AS last_used_at FROM kmx GROUP BY 1, 2
    ), kt AS MATERIALIZED (
      SELECT k.*, lm.last_model
        FROM kt0 k JOIN (SELECT account_id, api_key_id, min(last_model) AS last_model
                           FROM kmx JOIN kt0 USING (account_id, api_key_id, last_used_at)
                          GROUP BY 1, 2) lm USING (account_id, api_key_id)
    ), md AS MATERIALIZED (
      SELECT account_id, model, usage_date, %1$s, max(last_used_at) AS last_used_at FROM l1 WHERE undated = 0 GROUP BY 1, 2, 3
    ), mm AS MATERIALIZED (
      SELECT account_id, model, date_trunc('month', usage_date)::date AS usage_month, %1$s, max(last_used_at) AS last_used_at
        FROM (SELECT account_id, model, usage_date, %3$s, last_used_at FROM md
              UNION ALL SELECT account_id, model, usage_date, %3$s, last_used_at FROM l1 WHERE undated = 1) d GROUP BY 1, 2, 3
    ), mt AS MATERIALIZED (
      SELECT account_id, model, %1$s, max(last_used_at) AS last_used_at
        FROM (SELECT account_id, model, %3$s, last_used_at FROM mm
              UNION ALL SELECT account_id, model, %3$s, last_used_at FROM l1 WHERE undated = 2) d GROUP BY 1, 2
    ), ad AS MATERIALIZED (
      SELECT account_id, usage_date, %1$s, max(last_used_at) AS last_used_at FROM md GROUP BY 1, 2
    ), am AS MATERIALIZED (
      SELECT account_id, date_trunc('month', usage_date)::date AS usage_month, %1$s, max(last_used_at) AS last_used_at
        FROM (SELECT account_id, usage_date, %3$s, last_used_at FROM ad
              UNION ALL SELECT account_id, usage_date, %3$s, last_used_at FROM l1 WHERE undated = 1) d GROUP BY 1, 2
    ), at AS MATERIALIZED (
      SELECT account_id, %1$s, max(last_used_at) AS last_used_at
        FROM (SELECT account_id, %3$s, last_used_at FROM am
              UNION ALL SELECT account_id, %3$s, last_used_at FROM l1 WHERE undated = 2) d GROUP BY 1
    ), placeholder_accounts AS (
      INSERT INTO accounts (id, name, status)
      SELECT account_id, account_id, 'unknown' FROM at ORDER BY account_id COLLATE "C"
      ON CONFLICT (id) DO NOTHING
    ), keys AS (
      -- The placeholder for a new key and the totals of a known one in one upsert.
      INSERT INTO api_keys AS k (id, name, account_id, status, total_cost_accumulated, last_used_at)
      SELECT api_key_id, api_key_id, min(account_id), 'unknown', sum(total_cost), max(last_used_at)
        FROM kt GROUP BY api_key_id ORDER BY api_key_id COLLATE "C"
      ON CONFLICT (id) DO UPDATE SET
        total_cost_accumulated = k.total_cost_accumulated + excluded.total_cost_accumulated,
        last_used_at = GREATEST(k.last_used_at, excluded.last_used_at)
    )$q$, sums, p_source, mcols);

  -- Measure columns of a rollup, the values from a level, and the additions on conflict.
  SELECT string_agg(quote_ident(c), ', ') INTO cols FROM unnest(counters || money_rollup) c;
  SELECT string_agg(quote_ident(c), ', ') || ', ' || (SELECT string_agg(format('%I * 1000000000', m), ', ') FROM unnest(money) m)
    INTO vals FROM unnest(counters) c;
  SELECT string_agg(format('%1$I = t.%1$I + excluded.%1$I', c), ', ') INTO sets FROM unnest(counters || money_rollup) c;

  -- Upserts in key order (byte order: any fixed order prevents deadlocks between concurrent
  -- batches, and this one sorts without the collation's cost).
  FOR t IN SELECT * FROM (VALUES
      (1, 'usage_account_daily', 'ad', ARRAY['account_id', 'usage_date'], false),
      (2, 'usage_account_monthly', 'am', ARRAY['account_id', 'usage_month'], false),
      (3, 'usage_account_totals', 'at', ARRAY['account_id'], false),
      (4, 'usage_key_daily', 'kd', ARRAY['account_id', 'usage_date', 'api_key_id'], true),
      (5, 'usage_key_monthly', 'km', ARRAY['account_id', 'usage_month', 'api_key_id'], true),
      (6, 'usage_key_totals', 'kt', ARRAY['account_id', 'api_key_id'], true),
      (7, 'usage_model_daily', 'md', ARRAY['account_id', 'usage_date', 'model'], false),
      (8, 'usage_model_monthly', 'mm', ARRAY['account_id', 'usage_month', 'model'], false),
      (9, 'usage_model_totals', 'mt', ARRAY['account_id', 'model'], false)
    ) AS v(n, tbl, lvl, keys, with_model) ORDER BY n
  LOOP
    upserts := upserts || format($q$, u_%1$s AS (
      INSERT INTO %2$I AS t (%3$s, %4$s, last_used_at%5$s)
      SELECT %3$s, %6$s, last_used_at%5$s FROM %1$s ORDER BY %7$s
      ON CONFLICT (%3$s) DO UPDATE SET %8$s, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at)%9$s
    )$q$,
      t.lvl, t.tbl,
      (SELECT string_agg(quote_ident(k), ', ') FROM unnest(t.keys) k),
      cols,
      CASE WHEN t.with_model THEN ', last_model' ELSE '' END,
      vals,
      (SELECT string_agg(CASE WHEN k IN ('usage_date', 'usage_month') THEN quote_ident(k) ELSE quote_ident(k) || ' COLLATE "C"' END, ', ') FROM unnest(t.keys) k),
      sets,
      CASE WHEN t.with_model THEN ', last_model = CASE WHEN t.last_used_at IS NULL OR excluded.last_used_at >= t.last_used_at THEN excluded.last_model ELSE t.last_model END' ELSE '' END);
  END LOOP;

  RETURN 'WITH ' || levels || upserts || ' SELECT 1';
END $fn$;

-- 0005's insert with the rated_cost field (otherwise unchanged).
CREATE OR REPLACE FUNCTION insert_usage_batch(p_events json, p_tz text)
RETURNS TABLE (request_id text)
LANGUAGE plpgsql SET work_mem = '32MB' AS $$
#variable_conflict use_column
DECLARE
  claimed bigint;
  inserted text[];
BEGIN
  BEGIN
    WITH fresh AS MATERIALIZED (
      SELECT x.*
        FROM json_to_recordset(p_events) AS x(
          request_id text, occurred_at timestamptz, account_id text, api_key_id text, model text,
          requests integer, input_tokens bigint, output_tokens bigint, cache_create_tokens bigint,
          cache_read_tokens bigint, ephemeral_5m_tokens bigint, ephemeral_1h_tokens bigint,
          total_cost numeric, rated_cost numeric, cost_breakdown jsonb, metadata jsonb)
       ORDER BY x.account_id COLLATE "C", x.request_id COLLATE "C"
    ), ids AS (
      INSERT INTO usage_request_ids (account_id, request_id, occurred_at)
      SELECT f.account_id, f.request_id, f.occurred_at FROM fresh f
      RETURNING 1
    ), rows AS (
      INSERT INTO usage_records (request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model,
        requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens,
        ephemeral_1h_tokens, total_tokens, total_cost, rated_cost, cost_breakdown, metadata)
      SELECT i.request_id, i.occurred_at, (i.occurred_at AT TIME ZONE p_tz)::date,
             extract(hour FROM i.occurred_at AT TIME ZONE p_tz)::smallint,
             i.account_id, i.api_key_id, i.model, coalesce(i.requests, 1),
             coalesce(i.input_tokens, 0), coalesce(i.output_tokens, 0), coalesce(i.cache_create_tokens, 0),
             coalesce(i.cache_read_tokens, 0), coalesce(i.ephemeral_5m_tokens, 0), coalesce(i.ephemeral_1h_tokens, 0),
             coalesce(i.input_tokens, 0) + coalesce(i.output_tokens, 0) + coalesce(i.cache_create_tokens, 0) + coalesce(i.cache_read_tokens, 0),
             coalesce(i.total_cost, 0), i.rated_cost, i.cost_breakdown, i.metadata
        FROM fresh i
      RETURNING usage_records.request_id
    )
    SELECT (SELECT count(*) FROM ids), (SELECT array_agg(r.request_id) FROM rows r) INTO claimed, inserted;
  EXCEPTION WHEN unique_violation THEN
    WITH input AS (
      SELECT DISTINCT ON (x.account_id COLLATE "C", x.request_id COLLATE "C") x.*
        FROM json_to_recordset(p_events) AS x(
          request_id text, occurred_at timestamptz, account_id text, api_key_id text, model text,
          requests integer, input_tokens bigint, output_tokens bigint, cache_create_tokens bigint,
          cache_read_tokens bigint, ephemeral_5m_tokens bigint, ephemeral_1h_tokens bigint,
          total_cost numeric, rated_cost numeric, cost_breakdown jsonb, metadata jsonb)
       ORDER BY x.account_id COLLATE "C", x.request_id COLLATE "C"
    ), fresh AS (
      INSERT INTO usage_request_ids (account_id, request_id, occurred_at)
      SELECT i.account_id, i.request_id, i.occurred_at FROM input i ORDER BY i.account_id COLLATE "C", i.request_id COLLATE "C"
      ON CONFLICT DO NOTHING
      RETURNING usage_request_ids.account_id, usage_request_ids.request_id
    ), rows AS (
      INSERT INTO usage_records (request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model,
        requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens,
        ephemeral_1h_tokens, total_tokens, total_cost, rated_cost, cost_breakdown, metadata)
      SELECT i.request_id, i.occurred_at, (i.occurred_at AT TIME ZONE p_tz)::date,
             extract(hour FROM i.occurred_at AT TIME ZONE p_tz)::smallint,
             i.account_id, i.api_key_id, i.model, coalesce(i.requests, 1),
             coalesce(i.input_tokens, 0), coalesce(i.output_tokens, 0), coalesce(i.cache_create_tokens, 0),
             coalesce(i.cache_read_tokens, 0), coalesce(i.ephemeral_5m_tokens, 0), coalesce(i.ephemeral_1h_tokens, 0),
             coalesce(i.input_tokens, 0) + coalesce(i.output_tokens, 0) + coalesce(i.cache_create_tokens, 0) + coalesce(i.cache_read_tokens, 0),
             coalesce(i.total_cost, 0), i.rated_cost, i.cost_breakdown, i.metadata
        FROM input i JOIN fresh f ON f.account_id = i.account_id AND f.request_id = i.request_id
      RETURNING usage_records.request_id
    )
    SELECT array_agg(r.request_id) INTO inserted FROM rows r;
  END;
  RETURN QUERY SELECT unnest(inserted);
END $$;
