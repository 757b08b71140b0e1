-- One definition of how usage rows are added to the rollups, used by the insert trigger and by
-- db:rebuild-rollups alike (0003's trigger and 0001's usage_rollup_upsert had drifted apart).
--
-- usage_rollup_sql(source) returns the statement that adds the rows of `source` (the trigger's
-- transition table new_usage, or a partition of usage_records) to every rollup, creates
-- placeholder accounts and API keys and adds to api_keys' totals. It is 0003's statement, with its
-- column lists generated from one list of measures: a new measure is one entry in `counters` or
-- `money` below (and its columns). The caller runs it with EXECUTE, so that a trigger's transition
-- table is visible to it.

DROP FUNCTION usage_rollup_upsert(usage_agg_row[]);
DROP TYPE usage_agg_row;

CREATE FUNCTION usage_rollup_sql(p_source text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  -- Integer sums: the same column in usage_records, every level below and every rollup.
  counters text[] := ARRAY['requests', 'input_tokens', 'output_tokens', 'cache_create_tokens', 'cache_read_tokens',
                           'ephemeral_5m_tokens', 'ephemeral_1h_tokens', 'total_tokens'];
  -- Money: NUMERIC USD in usage_records (and summed as such, exactly), integer nano-USD in rollups.
  money text[] := ARRAY['total_cost'];
  money_rollup text[] := ARRAY['cost_nanos'];
  sums text;
  cols text;
  vals text;
  sets text;
  levels text;
  upserts text := '';
  t record;
BEGIN
  SELECT string_agg(format('sum(%I)::int8 AS %I', c, c), ', ') INTO sums FROM unnest(counters) c;
  SELECT sums || ', ' || string_agg(format('sum(%I) AS %I', m, m), ', ') INTO sums FROM unnest(money) m;

  -- The levels: each summed once from the level below it (key × day → key × month → key;
  -- model × day → month → all time; model × day → account × day → month → all time). last_model
  -- is the model of the latest event, ties to the smallest name.
  levels := format($q$
    l1 AS MATERIALIZED (
      SELECT account_id, api_key_id, model, usage_date, %1$s, max(occurred_at) AS last_used_at
        FROM %2$s GROUP BY account_id, api_key_id, model, usage_date
    ), kd0 AS MATERIALIZED (
      SELECT account_id, api_key_id, usage_date, %1$s, max(last_used_at) AS last_used_at FROM l1 GROUP BY 1, 2, 3
    ), kd AS MATERIALIZED (
      SELECT k.*, lm.last_model
        FROM kd0 k JOIN (SELECT account_id, api_key_id, usage_date, min(model) AS last_model
                           FROM l1 JOIN kd0 USING (account_id, api_key_id, usage_date, last_used_at)
                          GROUP BY 1, 2, 3) lm USING (account_id, api_key_id, usage_date)
    ), km0 AS MATERIALIZED (
      SELECT account_id, api_key_id, date_trunc('month', usage_date)::date AS usage_month, %1$s, max(last_used_at) AS last_used_at
        FROM kd GROUP BY 1, 2, 3
    ), km AS MATERIALIZED (
      SELECT k.*, lm.last_model
        FROM km0 k JOIN (SELECT account_id, api_key_id, usage_month, min(last_model) AS last_model
                           FROM (SELECT kd.*, date_trunc('month', usage_date)::date AS usage_month FROM kd) d
                           JOIN km0 USING (account_id, api_key_id, usage_month, last_used_at)
                          GROUP BY 1, 2, 3) lm USING (account_id, api_key_id, usage_month)
    ), kt0 AS MATERIALIZED (
      SELECT account_id, api_key_id, %1$s, max(last_used_at) AS last_used_at FROM km GROUP BY 1, 2
    ), kt AS MATERIALIZED (
      SELECT k.*, lm.last_model
        FROM kt0 k JOIN (SELECT account_id, api_key_id, min(last_model) AS last_model
                           FROM km JOIN kt0 USING (account_id, api_key_id, last_used_at)
                          GROUP BY 1, 2) lm USING (account_id, api_key_id)
    ), md AS MATERIALIZED (
      SELECT account_id, model, usage_date, %1$s, max(last_used_at) AS last_used_at FROM l1 GROUP BY 1, 2, 3
    ), mm AS MATERIALIZED (
      SELECT account_id, model, date_trunc('month', usage_date)::date AS usage_month, %1$s, max(last_used_at) AS last_used_at
        FROM md GROUP BY 1, 2, 3
    ), mt AS MATERIALIZED (
      SELECT account_id, model, %1$s, max(last_used_at) AS last_used_at FROM mm GROUP BY 1, 2
    ), ad AS MATERIALIZED (
      SELECT account_id, usage_date, %1$s, max(last_used_at) AS last_used_at FROM md GROUP BY 1, 2
    ), am AS MATERIALIZED (
      SELECT account_id, date_trunc('month', usage_date)::date AS usage_month, %1$s, max(last_used_at) AS last_used_at
        FROM ad GROUP BY 1, 2
    ), at AS MATERIALIZED (
      SELECT account_id, %1$s, max(last_used_at) AS last_used_at FROM am GROUP BY 1
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
    )$q$, sums, p_source);

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

-- The joins are between aggregates whose sizes the planner can only guess, and a nested loop or a
-- merge join over a misestimate costs seconds: hash joins only.
CREATE OR REPLACE FUNCTION usage_records_apply_rollups() RETURNS trigger
LANGUAGE plpgsql SET work_mem = '32MB' SET enable_nestloop = off SET enable_mergejoin = off AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_usage) THEN
    EXECUTE usage_rollup_sql('new_usage');
  END IF;
  RETURN NULL;
END $$;

-- db:rebuild-rollups: the same statement over one partition (after the rollups were emptied and
-- the api_keys totals zeroed).
CREATE FUNCTION usage_rollup_add(p_source regclass) RETURNS void
LANGUAGE plpgsql SET work_mem = '32MB' SET enable_nestloop = off SET enable_mergejoin = off AS $$
BEGIN
  EXECUTE usage_rollup_sql(p_source::text);
END $$;
