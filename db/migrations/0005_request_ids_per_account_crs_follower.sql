-- Issue 13: the idempotency key is account + request id, in both stores. Redis has always deduped
-- per account (its dedupe keys carry the account's hash tag, so one script can claim them on
-- Redis Cluster); PostgreSQL deduped globally, so a request id reused by another account was
-- acknowledged and counted in Redis and then silently dropped here. Now an id reused by another
-- account is a request of its own everywhere; a second event of the same account with that id is
-- the duplicate, everywhere.
ALTER TABLE usage_request_ids ADD COLUMN account_id text;
UPDATE usage_request_ids i SET account_id = r.account_id FROM usage_records r WHERE r.request_id = i.request_id;
-- Claims whose row a retention drop removed: no account is known any more; '' keeps them apart.
UPDATE usage_request_ids SET account_id = '' WHERE account_id IS NULL;
ALTER TABLE usage_request_ids ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE usage_request_ids DROP CONSTRAINT usage_request_ids_pkey;
ALTER TABLE usage_request_ids ADD PRIMARY KEY (account_id, request_id);

-- 0003's function with the claim on (account_id, request_id); otherwise unchanged.
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
          total_cost numeric, cost_breakdown jsonb, metadata jsonb)
       ORDER BY x.account_id COLLATE "C", x.request_id COLLATE "C"
    ), ids AS (
      INSERT INTO usage_request_ids (account_id, request_id, occurred_at)
      SELECT f.account_id, f.request_id, f.occurred_at FROM fresh f
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
    SELECT (SELECT count(*) FROM ids), (SELECT array_agg(r.request_id) FROM rows r) INTO claimed, inserted;
  EXCEPTION WHEN unique_violation THEN
    WITH input AS (
      SELECT DISTINCT ON (x.account_id COLLATE "C", x.request_id COLLATE "C") x.*
        FROM json_to_recordset(p_events) AS x(
          request_id text, occurred_at timestamptz, account_id text, api_key_id text, model text,
          requests integer, input_tokens bigint, output_tokens bigint, cache_create_tokens bigint,
          cache_read_tokens bigint, ephemeral_5m_tokens bigint, ephemeral_1h_tokens bigint,
          total_cost numeric, cost_breakdown jsonb, metadata jsonb)
       ORDER BY x.account_id COLLATE "C", x.request_id COLLATE "C"
    ), fresh AS (
      INSERT INTO usage_request_ids (account_id, request_id, occurred_at)
      SELECT i.account_id, i.request_id, i.occurred_at FROM input i ORDER BY i.account_id COLLATE "C", i.request_id COLLATE "C"
      ON CONFLICT DO NOTHING
      RETURNING usage_request_ids.account_id, usage_request_ids.request_id
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
        FROM input i JOIN fresh f ON f.account_id = i.account_id AND f.request_id = i.request_id
      RETURNING usage_records.request_id
    )
    SELECT array_agg(r.request_id) INTO inserted FROM rows r;
  END;
  RETURN QUERY SELECT unnest(inserted);
END $$;

-- Issue 13: the claude-relay-service follower's persisted state (server/crs/follower.ts).
-- Per CRS key: how many of its requests (CRS's usage:{key} totalRequests) are recorded here and
-- the newest record seen, so a restart neither loses nor doubles; gap_since marks a key whose
-- records could not cover what arrived (more than CRS's 200) until its aggregates fill it.
CREATE TABLE crs_follower_keys (
  source           text NOT NULL,
  key_id           text NOT NULL,
  total_requests   bigint NOT NULL,
  newest_record_id text,
  gap_since        timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, key_id)
);

-- Per CRS (source): the lease that lets one of several followers work at a time, and what
-- /admin/health shows.
CREATE TABLE crs_follower_status (
  source           text PRIMARY KEY,
  lease_owner      text,
  lease_until      timestamptz,
  started_at       timestamptz NOT NULL DEFAULT now(),
  global_requests  bigint NOT NULL DEFAULT 0,
  last_read_at     timestamptz,
  last_event_at    timestamptz,
  events_recorded  bigint NOT NULL DEFAULT 0,
  gaps_filled      integer NOT NULL DEFAULT 0,
  gap_requests     bigint NOT NULL DEFAULT 0,
  errors           integer NOT NULL DEFAULT 0,
  last_error       text,
  last_error_at    timestamptz
);
