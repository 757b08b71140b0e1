-- Issue 22: sources. The ledger follows more than one relay (claude-relay-service through its Redis,
-- sub2api through its PostgreSQL, several at once during a migration), so what was the CRS
-- follower's status row is now every source's: one lease, one cursor, its counters and what it
-- skipped, whatever the source reads.
ALTER TABLE crs_follower_status RENAME TO source_status;
ALTER TABLE source_status RENAME CONSTRAINT crs_follower_status_pkey TO source_status_pkey;
ALTER TABLE source_status
  ADD COLUMN kind      text   NOT NULL DEFAULT 'crs',
  ADD COLUMN cursor    jsonb  NOT NULL DEFAULT '{}'::jsonb,
  ADD COLUMN rows_read bigint NOT NULL DEFAULT 0,
  ADD CONSTRAINT source_status_kind_check CHECK (kind ~ '^[a-z][a-z0-9-]{0,31}$');
ALTER TABLE source_status ALTER COLUMN kind DROP DEFAULT;
COMMENT ON TABLE source_status IS 'One row per source the ledger reads (a CRS Redis, a sub2api database …): its lease, cursor and counters (server/sources/)';
COMMENT ON COLUMN source_status.rejections IS 'reason -> count of what the source skipped (see server/sources/shared/rejections.ts)';
COMMENT ON COLUMN source_status.cursor IS 'where the source reads on from (CRS keeps per-key watermarks in crs_follower_keys instead)';

-- The CRS follower's source was called "default"; it is "crs" now (health, metrics, its key watermarks).
UPDATE source_status SET source = 'crs' WHERE source = 'default';
UPDATE crs_follower_keys SET source = 'crs' WHERE source = 'default';

-- Which relays an account was fed by (an account synced from CRS into sub2api has both), and the
-- relay an API key came from (keys are never shared between relays). NULL / empty: the REST API.
ALTER TABLE accounts ADD COLUMN sources text[] NOT NULL DEFAULT '{}';
ALTER TABLE api_keys ADD COLUMN source text;
UPDATE accounts SET sources = ARRAY['crs'] WHERE metadata->>'source' = 'crs';
UPDATE api_keys SET source = 'crs' WHERE metadata->>'source' = 'crs';
CREATE INDEX accounts_sources_idx ON accounts USING gin (sources);
