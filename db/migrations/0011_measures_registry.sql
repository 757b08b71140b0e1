-- Issue 21: the measures (requests, the token counts, the costs) are rows of one table, and the SQL
-- that sums them is generated from it. Before, a measure was an entry in 0006's usage_rollup_sql
-- arrays, two hand-written column lists in insert_usage_batch (fast path and fallback) and
-- ALTER TABLEs on usage_records and nine rollups. Now it is one statement in a migration:
--
--   SELECT usage_add_measure('fakeUnits', 'count', 'fake_units');
--
-- which adds the columns, registers the measure, and regenerates insert_usage_batch; the rollup
-- trigger and db:rebuild-rollups read the registry each time they build their statement. (The
-- TypeScript side, db/measures.ts, is the other half of a new measure.)

-- The SQL measures, in the order of every generated column list.
--   name           the API name (camelCase), as in db/measures.ts
--   kind           'count': an integer, summed as int8; 'money': NUMERIC USD in usage_records,
--                  integer nano-USD (1e-9 USD) in the rollups, so up-to-8-decimal costs add up exactly
--   record_column  its column in usage_records, and in the levels of usage_rollup_sql's statement
--   rollup_column  its column in the nine rollup tables (a count's is its record_column)
--   record_sum     what is summed for a usage_records row; it is summed again at every level above
--                  (over the level's record_column), where it must be a no-op beyond the column
--                  itself (rated_cost: NULL in usage_records when it equals the real cost)
--   input_type     the type of the field of that name (record_column) in insert_usage_batch's JSON
--                  rows; NULL for a measure that is computed from other fields (total_tokens)
--   insert_expr    the value insert_usage_batch inserts, over the JSON row `i`
CREATE TABLE usage_measures (
  position      int PRIMARY KEY,
  name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z][A-Za-z0-9]*$'),
  kind          text NOT NULL CHECK (kind IN ('count', 'money')),
  record_column text NOT NULL UNIQUE CHECK (record_column ~ '^[a-z][a-z0-9_]*$'),
  rollup_column text NOT NULL UNIQUE CHECK (rollup_column ~ '^[a-z][a-z0-9_]*$'),
  record_sum    text NOT NULL,
  input_type    text,
  insert_expr   text NOT NULL,
  CHECK (kind = 'money' OR rollup_column = record_column)
);
COMMENT ON TABLE usage_measures IS 'The usage measures: what usage_rollup_sql and insert_usage_batch are generated from. Add one with usage_add_measure (0011_measures_registry.sql), never by hand.';

-- Today's measures, read off 0006's usage_rollup_sql and insert_usage_batch.
INSERT INTO usage_measures (position, name, kind, record_column, rollup_column, record_sum, input_type, insert_expr) VALUES
  (1, 'requests', 'count', 'requests', 'requests', 'requests', 'integer', 'coalesce(i.requests, 1)'),
  (2, 'inputTokens', 'count', 'input_tokens', 'input_tokens', 'input_tokens', 'bigint', 'coalesce(i.input_tokens, 0)'),
  (3, 'outputTokens', 'count', 'output_tokens', 'output_tokens', 'output_tokens', 'bigint', 'coalesce(i.output_tokens, 0)'),
  (4, 'cacheCreateTokens', 'count', 'cache_create_tokens', 'cache_create_tokens', 'cache_create_tokens', 'bigint', 'coalesce(i.cache_create_tokens, 0)'),
  (5, 'cacheReadTokens', 'count', 'cache_read_tokens', 'cache_read_tokens', 'cache_read_tokens', 'bigint', 'coalesce(i.cache_read_tokens, 0)'),
  (6, 'ephemeral5mTokens', 'count', 'ephemeral_5m_tokens', 'ephemeral_5m_tokens', 'ephemeral_5m_tokens', 'bigint', 'coalesce(i.ephemeral_5m_tokens, 0)'),
  (7, 'ephemeral1hTokens', 'count', 'ephemeral_1h_tokens', 'ephemeral_1h_tokens', 'ephemeral_1h_tokens', 'bigint', 'coalesce(i.ephemeral_1h_tokens, 0)'),
  (8, 'allTokens', 'count', 'total_tokens', 'total_tokens', 'total_tokens', NULL,
     'coalesce(i.input_tokens, 0) + coalesce(i.output_tokens, 0) + coalesce(i.cache_create_tokens, 0) + coalesce(i.cache_read_tokens, 0)'),
  (9, 'cost', 'money', 'total_cost', 'cost_nanos', 'total_cost', 'numeric', 'coalesce(i.total_cost, 0)'),
  (10, 'ratedCost', 'money', 'rated_cost', 'rated_cost_nanos', 'coalesce(rated_cost, total_cost)', 'numeric', 'i.rated_cost');

-- 0006's one rollup definition with its lists read from usage_measures (so STABLE, no longer
-- IMMUTABLE: it reads a table). For today's measures it returns 0006's statement, character for
-- character. It runs once per insert statement (the trigger) or per partition (db:rebuild-rollups):
-- reading ten rows is nothing beside the statement it builds.
CREATE OR REPLACE FUNCTION usage_rollup_sql(p_source text) RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  -- Integer sums (kind 'count'): the same column in usage_records, every level below and every
  -- rollup (usage_measures' CHECK holds rollup_column = record_column for them).
  counters text[];
  counter_expr text[];
  -- Money: NUMERIC USD in usage_records (and summed as such, exactly), integer nano-USD in rollups.
  -- The expression sums a level's column; rated_cost is NULL in usage_records when it equals the
  -- real cost, and never NULL in the levels above (the coalesce is a no-op there).
  money text[];
  money_expr text[];
  money_rollup text[];
  sums text;
  mcols text;
  cols text;
  vals text;
  sets text;
  levels text;
  upserts text := '';
  t record;
BEGIN
  SELECT array_agg(record_column ORDER BY position) FILTER (WHERE kind = 'count'),
         array_agg(record_sum ORDER BY position) FILTER (WHERE kind = 'count'),
         array_agg(record_column ORDER BY position) FILTER (WHERE kind = 'money'),
         array_agg(record_sum ORDER BY position) FILTER (WHERE kind = 'money'),
         array_agg(rollup_column ORDER BY position) FILTER (WHERE kind = 'money')
    INTO counters, counter_expr, money, money_expr, money_rollup
    FROM usage_measures;

  SELECT string_agg(format('sum(%s)::int8 AS %I', x, c), ', ' ORDER BY n) INTO sums
    FROM unnest(counters, counter_expr) WITH ORDINALITY AS u(c, x, n);
  SELECT sums || ', ' || string_agg(format('sum(%s) AS %I', x, m), ', ' ORDER BY n) INTO sums
    FROM unnest(money, money_expr) WITH ORDINALITY AS u(m, x, n);

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

-- insert_usage_batch(json, text) as 0006 defined it, with its measure columns from usage_measures.
-- usage_add_measure calls it after adding a measure; 0006's text is restated here once, as a
-- template: the JSON fields (%1$s), the usage_records columns (%2$s) and their values (%3$s). The
-- expressions are tried on an empty input first, so a bad one fails the migration, not ingest.
CREATE FUNCTION usage_define_insert_batch() RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  fields text;
  cols text;
  vals text;
  body text;
BEGIN
  -- One per line, so the generated text reads well in db/schema.sql.
  SELECT string_agg(format('%I %s', record_column, input_type::regtype::text), E',\n          ' ORDER BY position) FILTER (WHERE input_type IS NOT NULL),
         string_agg(quote_ident(record_column), E',\n        ' ORDER BY position),
         string_agg(insert_expr, E',\n             ' ORDER BY position)
    INTO fields, cols, vals
    FROM usage_measures;
  -- Every expression resolves and fits its column (EXPLAIN plans the insert, runs nothing).
  EXECUTE format('EXPLAIN INSERT INTO usage_records (%s) SELECT %s FROM json_to_recordset(%L::json) AS i(%s)',
                 cols, vals, '[]', concat_ws(', ', 'request_id text', fields));

  body := format($body$
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
          %1$s,
          cost_breakdown jsonb, metadata jsonb)
       ORDER BY x.account_id COLLATE "C", x.request_id COLLATE "C"
    ), ids AS (
      INSERT INTO usage_request_ids (account_id, request_id, occurred_at)
      SELECT f.account_id, f.request_id, f.occurred_at FROM fresh f
      RETURNING 1
    ), rows AS (
      INSERT INTO usage_records (request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model,
        %2$s,
        cost_breakdown, metadata)
      SELECT i.request_id, i.occurred_at, (i.occurred_at AT TIME ZONE p_tz)::date,
             extract(hour FROM i.occurred_at AT TIME ZONE p_tz)::smallint,
             i.account_id, i.api_key_id, i.model,
             %3$s,
             i.cost_breakdown, i.metadata
        FROM fresh i
      RETURNING usage_records.request_id
    )
    SELECT (SELECT count(*) FROM ids), (SELECT array_agg(r.request_id) FROM rows r) INTO claimed, inserted;
  EXCEPTION WHEN unique_violation THEN
    WITH input AS (
      SELECT DISTINCT ON (x.account_id COLLATE "C", x.request_id COLLATE "C") x.*
        FROM json_to_recordset(p_events) AS x(
          request_id text, occurred_at timestamptz, account_id text, api_key_id text, model text,
          %1$s,
          cost_breakdown jsonb, metadata jsonb)
       ORDER BY x.account_id COLLATE "C", x.request_id COLLATE "C"
    ), fresh AS (
      INSERT INTO usage_request_ids (account_id, request_id, occurred_at)
      SELECT i.account_id, i.request_id, i.occurred_at FROM input i ORDER BY i.account_id COLLATE "C", i.request_id COLLATE "C"
      ON CONFLICT DO NOTHING
      RETURNING usage_request_ids.account_id, usage_request_ids.request_id
    ), rows AS (
      INSERT INTO usage_records (request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model,
        %2$s,
        cost_breakdown, metadata)
      SELECT i.request_id, i.occurred_at, (i.occurred_at AT TIME ZONE p_tz)::date,
             extract(hour FROM i.occurred_at AT TIME ZONE p_tz)::smallint,
             i.account_id, i.api_key_id, i.model,
             %3$s,
             i.cost_breakdown, i.metadata
        FROM input i JOIN fresh f ON f.account_id = i.account_id AND f.request_id = i.request_id
      RETURNING usage_records.request_id
    )
    SELECT array_agg(r.request_id) INTO inserted FROM rows r;
  END;
  RETURN QUERY SELECT unnest(inserted);
END $body$, fields, cols, vals);

  EXECUTE format($q$CREATE OR REPLACE FUNCTION insert_usage_batch(p_events json, p_tz text)
RETURNS TABLE (request_id text)
LANGUAGE plpgsql SET work_mem = '32MB' AS %L$q$, body);
END $fn$;

-- The same function, generated: for today's measures it is 0006's, but for the line breaks in its
-- column lists. The jsonb overload (0003) calls it and stays as it is.
SELECT usage_define_insert_batch();

-- A new measure: its columns, its row in usage_measures and insert_usage_batch regenerated. Call it
-- from a migration (it takes ACCESS EXCLUSIVE locks on usage_records, every partition and the nine
-- rollups, briefly: no column is rewritten or scanned).
--   p_name           the API name (camelCase), as in db/measures.ts
--   p_kind           'count' or 'money'
--   p_record_column  the new column of usage_records, and the JSON field insert_usage_batch reads
--   p_rollup_column  the new column of the rollups: a count's is its record_column; a money
--                    measure's defaults to <record_column>_nanos
--   p_insert_expr    the value inserted from the JSON row `i`; default coalesce(i.<record_column>, 0)
--   p_input_type     the JSON field's type; default bigint (count) or numeric (money). With a
--                    p_insert_expr of its own and no p_input_type the measure reads no field of its
--                    own (it is computed from other fields, as total_tokens is)
-- In usage_records a count is bigint NOT NULL DEFAULT 0 and money numeric(20, 8) NOT NULL DEFAULT 0
-- (as total_cost), each with a CHECK (>= 0) that is NOT VALID: enforced for new rows without
-- scanning the ledger (every existing row holds the default, 0). In the rollups either is bigint
-- NOT NULL DEFAULT 0 (nano-USD for money). Partitions, those to come included, get the columns from
-- their parent. Rows recorded before read 0 everywhere, and their rollups are right as they stand.
CREATE FUNCTION usage_add_measure(p_name text, p_kind text, p_record_column text, p_rollup_column text DEFAULT NULL,
                                  p_insert_expr text DEFAULT NULL, p_input_type text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  rollup_col text;
  field_type text := p_input_type;
  tbl text;
BEGIN
  IF p_kind IS NULL OR p_kind NOT IN ('count', 'money') THEN
    RAISE EXCEPTION 'usage_add_measure: kind must be ''count'' or ''money'', not %', coalesce(quote_literal(p_kind), 'NULL');
  END IF;
  IF p_record_column IS NULL OR p_record_column !~ '^[a-z][a-z0-9_]*$' OR length(p_record_column) > 50 THEN
    RAISE EXCEPTION 'usage_add_measure: the record column must be a lower-case SQL name (at most 50 characters), not %', coalesce(quote_literal(p_record_column), 'NULL');
  END IF;
  rollup_col := coalesce(p_rollup_column, CASE p_kind WHEN 'count' THEN p_record_column ELSE p_record_column || '_nanos' END);
  IF p_insert_expr IS NULL AND field_type IS NULL THEN
    field_type := CASE p_kind WHEN 'count' THEN 'bigint' ELSE 'numeric' END;
  END IF;

  -- usage_records first, then the rollups: the order an insert takes them in.
  EXECUTE format('ALTER TABLE usage_records ADD COLUMN %1$I %2$s NOT NULL DEFAULT 0, ADD CONSTRAINT %3$I CHECK (%1$I >= 0) NOT VALID',
                 p_record_column, CASE p_kind WHEN 'count' THEN 'bigint' ELSE 'numeric(20, 8)' END,
                 format('usage_records_%s_check', p_record_column));
  FOREACH tbl IN ARRAY ARRAY['usage_account_daily', 'usage_account_monthly', 'usage_account_totals',
                             'usage_key_daily', 'usage_key_monthly', 'usage_key_totals',
                             'usage_model_daily', 'usage_model_monthly', 'usage_model_totals'] LOOP
    EXECUTE format('ALTER TABLE %I ADD COLUMN %I bigint NOT NULL DEFAULT 0', tbl, rollup_col);
  END LOOP;

  INSERT INTO usage_measures (position, name, kind, record_column, rollup_column, record_sum, input_type, insert_expr)
  SELECT coalesce(max(position), 0) + 1, p_name, p_kind, p_record_column, rollup_col, quote_ident(p_record_column),
         field_type, coalesce(p_insert_expr, format('coalesce(i.%I, 0)', p_record_column))
    FROM usage_measures;

  PERFORM usage_define_insert_batch();
  -- The rollup statement resolves with the new columns (over no rows: it changes nothing).
  EXECUTE usage_rollup_sql('(SELECT * FROM usage_records LIMIT 0) AS s');
END $fn$;

-- Schema changes, for the migrating role only (as ALTER TABLE needs the tables' owner anyway).
REVOKE EXECUTE ON FUNCTION usage_define_insert_batch(), usage_add_measure(text, text, text, text, text, text) FROM PUBLIC;
