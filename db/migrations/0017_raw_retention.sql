-- Issue 26: raw-record retention (USAGE_RAW_RETENTION_MONTHS, server/maintenance/retention.service.ts).
-- Whole monthly partitions of usage_records older than a horizon are dropped, and the request-id
-- claims older than it deleted; the rollups keep every figure. The horizon ("raw records kept
-- from", a UTC month start) is kept in usage_settings under 'raw_kept_from'.
--
-- Claims are deleted by occurred_at in bounded batches. A BRIN index rather than a B-tree: claims
-- are written in roughly time order, so a BRIN of a few pages finds the old ranges, costs nothing
-- measurable per insert on the ingest path (a B-tree would add ~30 B and a random page write per
-- claim) and builds in one sequential pass, even on a table of a billion claims.
CREATE INDEX usage_request_ids_occurred_brin ON usage_request_ids USING brin (occurred_at) WITH (pages_per_range = 32);

-- What the raw rows of dropped months held per API key × model × local day × kind (an event, or a
-- CRS aggregate of a day / month / all time), written by retention before it drops a partition.
-- CRS's gap filling compares CRS's counters with what the ledger holds per key (crs.repository.ts
-- ledgerCoverage): without this, dropped months would look missing and an all-time gap be filled
-- twice. `sums`: usage_records column → sum (rated_cost with its default, total_cost), like a
-- rollup of key × model × day, a small fraction of the rows it replaces.
CREATE TABLE usage_expired_coverage (
  api_key_id text NOT NULL,
  model      text NOT NULL,
  usage_date date NOT NULL,
  kind       text NOT NULL,
  sums       jsonb NOT NULL,
  PRIMARY KEY (api_key_id, model, usage_date, kind)
);

-- The horizon as a timestamp; NULL while every raw record is kept.
CREATE FUNCTION usage_raw_kept_from() RETURNS timestamptz
  LANGUAGE sql STABLE
  AS $$ SELECT value::timestamptz FROM usage_settings WHERE key = 'raw_kept_from' $$;

-- A month before the horizon never gets a partition again: its rows are gone and so are its
-- request-id claims, so a late event of it could be counted twice. Writers refuse such events
-- first (validateEvents); this is the guard for one that read the horizon just before it moved.
CREATE OR REPLACE FUNCTION ensure_usage_partition(p_month date) RETURNS boolean
  LANGUAGE plpgsql
  AS $$
DECLARE
  m date := date_trunc('month', p_month)::date;
  part text := format('usage_records_p%s', to_char(m, 'YYYYMM'));
  kept_from timestamptz;
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  kept_from := usage_raw_kept_from();
  IF kept_from IS NOT NULL AND (m::timestamp AT TIME ZONE 'UTC') < kept_from THEN
    RAISE EXCEPTION 'raw usage records before % have expired (USAGE_RAW_RETENTION_MONTHS): events of % can no longer be recorded',
      to_char(kept_from AT TIME ZONE 'UTC', 'YYYY-MM-DD'), to_char(m, 'YYYY-MM')
      USING ERRCODE = '22008', HINT = 'RAW_RECORDS_EXPIRED';
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

-- ensure_usage_partitions (startup, daily) may start before the horizon: it skips those months.
CREATE OR REPLACE FUNCTION ensure_usage_partitions(p_from date, p_to date) RETURNS integer
  LANGUAGE plpgsql
  AS $$
DECLARE
  kept_from timestamptz := usage_raw_kept_from();
  m date := date_trunc('month', p_from)::date;
  created integer := 0;
BEGIN
  IF kept_from IS NOT NULL AND (m::timestamp AT TIME ZONE 'UTC') < kept_from THEN
    m := (kept_from AT TIME ZONE 'UTC')::date;
  END IF;
  WHILE m <= p_to LOOP
    IF ensure_usage_partition(m) THEN
      created := created + 1;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN created;
END $$;
