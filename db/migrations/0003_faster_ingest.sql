-- Cheaper usage ingest, with the same results as 0001:
-- * insert_usage_batch gets a json overload (json_to_recordset skips building a jsonb) and a fast
--   path without ON CONFLICT for request ids nobody recorded yet;
-- * the rollup trigger aggregates each level once, from the level below, in one statement, and
--   merges the api_keys placeholder insert with the api_keys totals update;
-- * the tables the trigger rewrites on every batch leave room on their pages for HOT updates.

-- Each batch rewrites most of today's rollup rows and the api_keys rows in use. On full pages every
-- new version goes to another page and needs a new index entry (and later a vacuum); with half of
-- the page free it is a heap-only update, and the next batch prunes the old version in place.
-- Existing pages keep their layout until rewritten: rows move to roomy pages as they are updated.
ALTER TABLE api_keys SET (fillfactor = 50);
ALTER TABLE usage_account_daily SET (fillfactor = 50);
ALTER TABLE usage_account_monthly SET (fillfactor = 50);
ALTER TABLE usage_account_totals SET (fillfactor = 50);
ALTER TABLE usage_key_daily SET (fillfactor = 50);
ALTER TABLE usage_key_monthly SET (fillfactor = 50);
ALTER TABLE usage_key_totals SET (fillfactor = 50);
ALTER TABLE usage_model_daily SET (fillfactor = 50);
ALTER TABLE usage_model_monthly SET (fillfactor = 50);
ALTER TABLE usage_model_totals SET (fillfactor = 50);

-- Same effects as 0001's version. The new rows are summed once per account × key × model × day, as
-- before, and each rollup level is then summed from the level below it (key × day → key × month →
-- key; model × day → month → all time; model × day → account × day → month → all time) instead of
-- nine times from the finest level. last_model keeps its rule (the model of the latest event, ties
-- to the smallest name): the smallest model among the rows whose last_used_at is the group's
-- maximum. Those joins are between aggregates whose sizes the planner can only guess, and a nested
-- loop or a merge join over a misestimate costs seconds: hash joins only. Upserts still run in key
-- order (byte order: any fixed order prevents deadlocks between concurrent batches, and this one
-- sorts without the collation's cost).
CREATE OR REPLACE FUNCTION usage_records_apply_rollups() RETURNS trigger
LANGUAGE plpgsql SET work_mem = '32MB' SET enable_nestloop = off SET enable_mergejoin = off AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM new_usage) THEN
    RETURN NULL;
  END IF;
  WITH l1 AS MATERIALIZED (
    SELECT account_id, api_key_id, model, usage_date,
           sum(requests)::int8 AS requests, sum(input_tokens)::int8 AS input_tokens, sum(output_tokens)::int8 AS output_tokens,
           sum(cache_create_tokens)::int8 AS cache_create_tokens, sum(cache_read_tokens)::int8 AS cache_read_tokens,
           sum(ephemeral_5m_tokens)::int8 AS ephemeral_5m_tokens, sum(ephemeral_1h_tokens)::int8 AS ephemeral_1h_tokens,
           sum(total_tokens)::int8 AS total_tokens, sum(total_cost) AS cost, max(occurred_at) AS last_used_at
      FROM new_usage GROUP BY account_id, api_key_id, model, usage_date
  ), kd0 AS MATERIALIZED (
    SELECT account_id, api_key_id, usage_date,
           sum(requests)::int8 AS requests, sum(input_tokens)::int8 AS input_tokens, sum(output_tokens)::int8 AS output_tokens,
           sum(cache_create_tokens)::int8 AS cache_create_tokens, sum(cache_read_tokens)::int8 AS cache_read_tokens,
           sum(ephemeral_5m_tokens)::int8 AS ephemeral_5m_tokens, sum(ephemeral_1h_tokens)::int8 AS ephemeral_1h_tokens,
           sum(total_tokens)::int8 AS total_tokens, sum(cost) AS cost, max(last_used_at) AS last_used_at
      FROM l1 GROUP BY account_id, api_key_id, usage_date
  ), kd AS MATERIALIZED (
    SELECT k.*, lm.last_model
      FROM kd0 k JOIN (SELECT account_id, api_key_id, usage_date, min(model) AS last_model
                         FROM l1 JOIN kd0 USING (account_id, api_key_id, usage_date, last_used_at)
                        GROUP BY 1, 2, 3) lm USING (account_id, api_key_id, usage_date)
  ), km0 AS MATERIALIZED (
    SELECT account_id, api_key_id, date_trunc('month', usage_date)::date AS usage_month,
           sum(requests)::int8 AS requests, sum(input_tokens)::int8 AS input_tokens, sum(output_tokens)::int8 AS output_tokens,
           sum(cache_create_tokens)::int8 AS cache_create_tokens, sum(cache_read_tokens)::int8 AS cache_read_tokens,
           sum(ephemeral_5m_tokens)::int8 AS ephemeral_5m_tokens, sum(ephemeral_1h_tokens)::int8 AS ephemeral_1h_tokens,
           sum(total_tokens)::int8 AS total_tokens, sum(cost) AS cost, max(last_used_at) AS last_used_at
      FROM kd GROUP BY 1, 2, 3
  ), km AS MATERIALIZED (
    SELECT k.*, lm.last_model
      FROM km0 k JOIN (SELECT account_id, api_key_id, usage_month, min(last_model) AS last_model
                         FROM (SELECT kd.*, date_trunc('month', usage_date)::date AS usage_month FROM kd) d
                         JOIN km0 USING (account_id, api_key_id, usage_month, last_used_at)
                        GROUP BY 1, 2, 3) lm USING (account_id, api_key_id, usage_month)
  ), kt0 AS MATERIALIZED (
    SELECT account_id, api_key_id,
           sum(requests)::int8 AS requests, sum(input_tokens)::int8 AS input_tokens, sum(output_tokens)::int8 AS output_tokens,
           sum(cache_create_tokens)::int8 AS cache_create_tokens, sum(cache_read_tokens)::int8 AS cache_read_tokens,
           sum(ephemeral_5m_tokens)::int8 AS ephemeral_5m_tokens, sum(ephemeral_1h_tokens)::int8 AS ephemeral_1h_tokens,
           sum(total_tokens)::int8 AS total_tokens, sum(cost) AS cost, max(last_used_at) AS last_used_at
      FROM km GROUP BY 1, 2
  ), kt AS MATERIALIZED (
    SELECT k.*, lm.last_model
      FROM kt0 k JOIN (SELECT account_id, api_key_id, min(last_model) AS last_model
                         FROM km JOIN kt0 USING (account_id, api_key_id, last_used_at)
                        GROUP BY 1, 2) lm USING (account_id, api_key_id)
  ), md AS MATERIALIZED (
    SELECT account_id, model, usage_date,
           sum(requests)::int8 AS requests, sum(input_tokens)::int8 AS input_tokens, sum(output_tokens)::int8 AS output_tokens,
           sum(cache_create_tokens)::int8 AS cache_create_tokens, sum(cache_read_tokens)::int8 AS cache_read_tokens,
           sum(ephemeral_5m_tokens)::int8 AS ephemeral_5m_tokens, sum(ephemeral_1h_tokens)::int8 AS ephemeral_1h_tokens,
           sum(total_tokens)::int8 AS total_tokens, sum(cost) AS cost, max(last_used_at) AS last_used_at
      FROM l1 GROUP BY account_id, model, usage_date
  ), mm AS MATERIALIZED (
    SELECT account_id, model, date_trunc('month', usage_date)::date AS usage_month,
           sum(requests)::int8 AS requests, sum(input_tokens)::int8 AS input_tokens, sum(output_tokens)::int8 AS output_tokens,
           sum(cache_create_tokens)::int8 AS cache_create_tokens, sum(cache_read_tokens)::int8 AS cache_read_tokens,
           sum(ephemeral_5m_tokens)::int8 AS ephemeral_5m_tokens, sum(ephemeral_1h_tokens)::int8 AS ephemeral_1h_tokens,
           sum(total_tokens)::int8 AS total_tokens, sum(cost) AS cost, max(last_used_at) AS last_used_at
      FROM md GROUP BY 1, 2, 3
  ), mt AS MATERIALIZED (
    SELECT account_id, model,
           sum(requests)::int8 AS requests, sum(input_tokens)::int8 AS input_tokens, sum(output_tokens)::int8 AS output_tokens,
           sum(cache_create_tokens)::int8 AS cache_create_tokens, sum(cache_read_tokens)::int8 AS cache_read_tokens,
           sum(ephemeral_5m_tokens)::int8 AS ephemeral_5m_tokens, sum(ephemeral_1h_tokens)::int8 AS ephemeral_1h_tokens,
           sum(total_tokens)::int8 AS total_tokens, sum(cost) AS cost, max(last_used_at) AS last_used_at
      FROM mm GROUP BY 1, 2
  ), ad AS MATERIALIZED (
    SELECT account_id, usage_date,
           sum(requests)::int8 AS requests, sum(input_tokens)::int8 AS input_tokens, sum(output_tokens)::int8 AS output_tokens,
           sum(cache_create_tokens)::int8 AS cache_create_tokens, sum(cache_read_tokens)::int8 AS cache_read_tokens,
           sum(ephemeral_5m_tokens)::int8 AS ephemeral_5m_tokens, sum(ephemeral_1h_tokens)::int8 AS ephemeral_1h_tokens,
           sum(total_tokens)::int8 AS total_tokens, sum(cost) AS cost, max(last_used_at) AS last_used_at
      FROM md GROUP BY 1, 2
  ), am AS MATERIALIZED (
    SELECT account_id, date_trunc('month', usage_date)::date AS usage_month,
           sum(requests)::int8 AS requests, sum(input_tokens)::int8 AS input_tokens, sum(output_tokens)::int8 AS output_tokens,
           sum(cache_create_tokens)::int8 AS cache_create_tokens, sum(cache_read_tokens)::int8 AS cache_read_tokens,
           sum(ephemeral_5m_tokens)::int8 AS ephemeral_5m_tokens, sum(ephemeral_1h_tokens)::int8 AS ephemeral_1h_tokens,
           sum(total_tokens)::int8 AS total_tokens, sum(cost) AS cost, max(last_used_at) AS last_used_at
      FROM ad GROUP BY 1, 2
  ), at AS MATERIALIZED (
    SELECT account_id,
           sum(requests)::int8 AS requests, sum(input_tokens)::int8 AS input_tokens, sum(output_tokens)::int8 AS output_tokens,
           sum(cache_create_tokens)::int8 AS cache_create_tokens, sum(cache_read_tokens)::int8 AS cache_read_tokens,
           sum(ephemeral_5m_tokens)::int8 AS ephemeral_5m_tokens, sum(ephemeral_1h_tokens)::int8 AS ephemeral_1h_tokens,
           sum(total_tokens)::int8 AS total_tokens, sum(cost) AS cost, max(last_used_at) AS last_used_at
      FROM am GROUP BY 1
  ), placeholder_accounts AS (
    INSERT INTO accounts (id, name, status)
    SELECT account_id, account_id, 'unknown' FROM at ORDER BY account_id COLLATE "C"
    ON CONFLICT (id) DO NOTHING
  ), keys AS (
    -- The placeholder for a new key and the totals of a known one in one upsert.
    INSERT INTO api_keys AS k (id, name, account_id, status, total_cost_accumulated, last_used_at)
    SELECT api_key_id, api_key_id, min(account_id), 'unknown', sum(cost), max(last_used_at)
      FROM kt GROUP BY api_key_id ORDER BY api_key_id COLLATE "C"
    ON CONFLICT (id) DO UPDATE SET
      total_cost_accumulated = k.total_cost_accumulated + excluded.total_cost_accumulated,
      last_used_at = GREATEST(k.last_used_at, excluded.last_used_at)
  ), u_ad AS (
    INSERT INTO usage_account_daily AS t (account_id, usage_date, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
    SELECT account_id, usage_date, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost * 1000000000, last_used_at
      FROM ad ORDER BY account_id COLLATE "C", usage_date
    ON CONFLICT (account_id, usage_date) DO UPDATE SET
      requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
      output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
      cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
      ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
      cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at)
  ), u_am AS (
    INSERT INTO usage_account_monthly AS t (account_id, usage_month, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
    SELECT account_id, usage_month, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost * 1000000000, last_used_at
      FROM am ORDER BY account_id COLLATE "C", usage_month
    ON CONFLICT (account_id, usage_month) DO UPDATE SET
      requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
      output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
      cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
      ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
      cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at)
  ), u_at AS (
    INSERT INTO usage_account_totals AS t (account_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
    SELECT account_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost * 1000000000, last_used_at
      FROM at ORDER BY account_id COLLATE "C"
    ON CONFLICT (account_id) DO UPDATE SET
      requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
      output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
      cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
      ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
      cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at)
  ), u_kd AS (
    INSERT INTO usage_key_daily AS t (account_id, usage_date, api_key_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at, last_model)
    SELECT account_id, usage_date, api_key_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost * 1000000000, last_used_at, last_model
      FROM kd ORDER BY account_id COLLATE "C", usage_date, api_key_id COLLATE "C"
    ON CONFLICT (account_id, usage_date, api_key_id) DO UPDATE SET
      requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
      output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
      cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
      ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
      cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at),
      last_model = CASE WHEN t.last_used_at IS NULL OR excluded.last_used_at >= t.last_used_at THEN excluded.last_model ELSE t.last_model END
  ), u_km AS (
    INSERT INTO usage_key_monthly AS t (account_id, usage_month, api_key_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at, last_model)
    SELECT account_id, usage_month, api_key_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost * 1000000000, last_used_at, last_model
      FROM km ORDER BY account_id COLLATE "C", usage_month, api_key_id COLLATE "C"
    ON CONFLICT (account_id, usage_month, api_key_id) DO UPDATE SET
      requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
      output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
      cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
      ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
      cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at),
      last_model = CASE WHEN t.last_used_at IS NULL OR excluded.last_used_at >= t.last_used_at THEN excluded.last_model ELSE t.last_model END
  ), u_kt AS (
    INSERT INTO usage_key_totals AS t (account_id, api_key_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at, last_model)
    SELECT account_id, api_key_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost * 1000000000, last_used_at, last_model
      FROM kt ORDER BY account_id COLLATE "C", api_key_id COLLATE "C"
    ON CONFLICT (account_id, api_key_id) DO UPDATE SET
      requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
      output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
      cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
      ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
      cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at),
      last_model = CASE WHEN t.last_used_at IS NULL OR excluded.last_used_at >= t.last_used_at THEN excluded.last_model ELSE t.last_model END
  ), u_md AS (
    INSERT INTO usage_model_daily AS t (account_id, usage_date, model, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
    SELECT account_id, usage_date, model, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost * 1000000000, last_used_at
      FROM md ORDER BY account_id COLLATE "C", usage_date, model COLLATE "C"
    ON CONFLICT (account_id, usage_date, model) DO UPDATE SET
      requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
      output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
      cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
      ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
      cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at)
  ), u_mm AS (
    INSERT INTO usage_model_monthly AS t (account_id, usage_month, model, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
    SELECT account_id, usage_month, model, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost * 1000000000, last_used_at
      FROM mm ORDER BY account_id COLLATE "C", usage_month, model COLLATE "C"
    ON CONFLICT (account_id, usage_month, model) DO UPDATE SET
      requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
      output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
      cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
      ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
      cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at)
  )
  INSERT INTO usage_model_totals AS t (account_id, model, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost_nanos, last_used_at)
  SELECT account_id, model, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, cost * 1000000000, last_used_at
    FROM mt ORDER BY account_id COLLATE "C", model COLLATE "C"
  ON CONFLICT (account_id, model) DO UPDATE SET
    requests = t.requests + excluded.requests, input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens, cache_create_tokens = t.cache_create_tokens + excluded.cache_create_tokens,
    cache_read_tokens = t.cache_read_tokens + excluded.cache_read_tokens, ephemeral_5m_tokens = t.ephemeral_5m_tokens + excluded.ephemeral_5m_tokens,
    ephemeral_1h_tokens = t.ephemeral_1h_tokens + excluded.ephemeral_1h_tokens, total_tokens = t.total_tokens + excluded.total_tokens,
    cost_nanos = t.cost_nanos + excluded.cost_nanos, last_used_at = GREATEST(t.last_used_at, excluded.last_used_at);
  RETURN NULL;
END $$;

-- The one way rows enter usage_records from JSON (see 0001). Batches rarely hold a recorded id, so
-- the fast path inserts every row with plain INSERTs: ON CONFLICT DO NOTHING costs a speculative
-- insertion per row, and a check of each id beforehand a second index search. An id recorded
-- already, twice in the batch, or by a concurrent writer first fails it with unique_violation
-- before the trigger ran; the subtransaction then rolls back and 0001's statement runs. Both insert
-- ids in byte order, so two writers of overlapping batches wait for each other rather than deadlock.
CREATE FUNCTION insert_usage_batch(p_events json, p_tz text)
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
          total_cost numeric, cost_breakdown jsonb, metadata jsonb)
       ORDER BY x.request_id COLLATE "C"
    ), ids AS (
      INSERT INTO usage_request_ids (request_id, occurred_at)
      SELECT f.request_id, f.occurred_at FROM fresh f
      RETURNING 1
    ), rows AS (
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
        FROM fresh i
      RETURNING usage_records.request_id
    )
    -- ids first: a recorded id fails the statement before any usage_records row is written.
    SELECT (SELECT count(*) FROM ids), (SELECT array_agg(r.request_id) FROM rows r) INTO claimed, inserted;
  EXCEPTION WHEN unique_violation THEN
    WITH input AS (
      SELECT DISTINCT ON (x.request_id COLLATE "C") x.*
        FROM json_to_recordset(p_events) AS x(
          request_id text, occurred_at timestamptz, account_id text, api_key_id text, model text,
          requests integer, input_tokens bigint, output_tokens bigint, cache_create_tokens bigint,
          cache_read_tokens bigint, ephemeral_5m_tokens bigint, ephemeral_1h_tokens bigint,
          total_cost numeric, cost_breakdown jsonb, metadata jsonb)
       ORDER BY x.request_id COLLATE "C"
    ), fresh AS (
      INSERT INTO usage_request_ids (request_id, occurred_at)
      SELECT i.request_id, i.occurred_at FROM input i ORDER BY i.request_id COLLATE "C"
      ON CONFLICT DO NOTHING
      RETURNING usage_request_ids.request_id
    ), rows AS (
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
    )
    SELECT array_agg(r.request_id) INTO inserted FROM rows r;
  END;
  RETURN QUERY SELECT unnest(inserted);
END $$;

-- jsonb callers (seed, scripts) keep working; the app passes json.
CREATE OR REPLACE FUNCTION insert_usage_batch(p_events jsonb, p_tz text)
RETURNS TABLE (request_id text)
LANGUAGE sql AS $$
  SELECT * FROM insert_usage_batch(p_events::json, p_tz)
$$;
