-- Issue 23: corrections. A relay's log can take money back — new-api writes refunds (a failed
-- async task's quota returned) and consume rows whose quota is a negative delta — and the ledger's
-- figures must equal the relay's own sums over any range, so such a row is recorded, never dropped:
-- as a CORRECTION, an event of requests = 0 whose money may be negative. A request never costs less
-- than nothing (requests >= 1 keeps every money measure >= 0); token counts are never negative.
-- Rollups and Redis counters are sums, so they take a correction as they take any event: a day, a
-- key or a model can sum below zero when a refund lands after the charge's day, exactly as the
-- relay's own sum over that range does.
--
-- The CHECKs on usage_records are replaced with NOT VALID ones (every row there satisfies them:
-- the old checks held), enforced for new rows without scanning the ledger.
ALTER TABLE usage_records DROP CONSTRAINT usage_records_total_cost_check;
ALTER TABLE usage_records ADD CONSTRAINT usage_records_total_cost_check CHECK (total_cost >= 0 OR requests = 0) NOT VALID;
ALTER TABLE usage_records ADD CONSTRAINT usage_records_rated_cost_check CHECK (rated_cost >= 0 OR requests = 0) NOT VALID;

-- usage_add_measure (0011) restated with the one change: a money measure added later takes
-- corrections too.
CREATE OR REPLACE FUNCTION usage_add_measure(p_name text, p_kind text, p_record_column text, p_rollup_column text DEFAULT NULL,
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
  -- A count is never negative; money is negative only in a correction (requests = 0), see above.
  EXECUTE format('ALTER TABLE usage_records ADD COLUMN %1$I %2$s NOT NULL DEFAULT 0, ADD CONSTRAINT %3$I CHECK (%1$I >= 0%4$s) NOT VALID',
                 p_record_column, CASE p_kind WHEN 'count' THEN 'bigint' ELSE 'numeric(20, 8)' END,
                 format('usage_records_%s_check', p_record_column), CASE p_kind WHEN 'money' THEN ' OR requests = 0' ELSE '' END);
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
