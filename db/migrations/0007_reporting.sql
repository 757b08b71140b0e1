-- Issue 15: the `reporting` schema, for BI tools (Metabase, Superset) and analysts' SQL. Its views
-- are the stable interface: columns are only ever added, never renamed or removed, whatever
-- happens to the tables behind them. No secrets: no key hashes, no admin users, sessions or API
-- tokens. `npm run db:grant-reporting -- --role <name>` creates a read-only role that sees this
-- schema only (scripts/db-grant-reporting.ts). Money is USD numeric (exact); `*_cost` is the real
-- cost (what the upstream account cost), `rated_cost` what the API key's holder is charged.
-- Days and months are local to USAGE_TIMEZONE (usage_settings), as everywhere in the product.
CREATE SCHEMA reporting;
COMMENT ON SCHEMA reporting IS 'Stable read-only views for BI tools: accounts, API keys, usage rollups (daily / monthly / all time per account, key and model) and the raw ledger. Costs in USD; cost = real, rated_cost = charged.';

CREATE VIEW reporting.accounts AS
  SELECT id AS account_id, name, platform, type, status, priority, metadata, created_at, updated_at, deleted_at
    FROM public.accounts;
COMMENT ON VIEW reporting.accounts IS 'Upstream accounts (deleted ones too: deleted_at is set).';

CREATE VIEW reporting.api_keys AS
  SELECT id AS api_key_id, name, account_id, status, daily_cost_limit, total_cost_limit, total_cost_accumulated, last_used_at,
         metadata, created_at, updated_at, deleted_at
    FROM public.api_keys;
COMMENT ON VIEW reporting.api_keys IS 'API keys of the relay, without their hashes. account_id: the account a key is bound to, if one.';

-- Rollups: one row per account (× key | × model) × local day | month | all time.
CREATE VIEW reporting.usage_account_daily AS
  SELECT account_id, usage_date, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens,
         ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, (cost_nanos::numeric / 1000000000)::numeric(30, 9) AS cost, (rated_cost_nanos::numeric / 1000000000)::numeric(30, 9) AS rated_cost, last_used_at
    FROM public.usage_account_daily;
CREATE VIEW reporting.usage_account_monthly AS
  SELECT account_id, usage_month, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens,
         ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, (cost_nanos::numeric / 1000000000)::numeric(30, 9) AS cost, (rated_cost_nanos::numeric / 1000000000)::numeric(30, 9) AS rated_cost, last_used_at
    FROM public.usage_account_monthly;
CREATE VIEW reporting.usage_account_totals AS
  SELECT account_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens,
         ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, (cost_nanos::numeric / 1000000000)::numeric(30, 9) AS cost, (rated_cost_nanos::numeric / 1000000000)::numeric(30, 9) AS rated_cost, last_used_at
    FROM public.usage_account_totals;
CREATE VIEW reporting.usage_key_daily AS
  SELECT account_id, api_key_id, usage_date, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens,
         ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, (cost_nanos::numeric / 1000000000)::numeric(30, 9) AS cost, (rated_cost_nanos::numeric / 1000000000)::numeric(30, 9) AS rated_cost, last_used_at, last_model
    FROM public.usage_key_daily;
CREATE VIEW reporting.usage_key_monthly AS
  SELECT account_id, api_key_id, usage_month, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens,
         ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, (cost_nanos::numeric / 1000000000)::numeric(30, 9) AS cost, (rated_cost_nanos::numeric / 1000000000)::numeric(30, 9) AS rated_cost, last_used_at, last_model
    FROM public.usage_key_monthly;
CREATE VIEW reporting.usage_key_totals AS
  SELECT account_id, api_key_id, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens,
         ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, (cost_nanos::numeric / 1000000000)::numeric(30, 9) AS cost, (rated_cost_nanos::numeric / 1000000000)::numeric(30, 9) AS rated_cost, last_used_at, last_model
    FROM public.usage_key_totals;
CREATE VIEW reporting.usage_model_daily AS
  SELECT account_id, model, usage_date, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens,
         ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, (cost_nanos::numeric / 1000000000)::numeric(30, 9) AS cost, (rated_cost_nanos::numeric / 1000000000)::numeric(30, 9) AS rated_cost, last_used_at
    FROM public.usage_model_daily;
CREATE VIEW reporting.usage_model_monthly AS
  SELECT account_id, model, usage_month, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens,
         ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, (cost_nanos::numeric / 1000000000)::numeric(30, 9) AS cost, (rated_cost_nanos::numeric / 1000000000)::numeric(30, 9) AS rated_cost, last_used_at
    FROM public.usage_model_monthly;
CREATE VIEW reporting.usage_model_totals AS
  SELECT account_id, model, requests, input_tokens, output_tokens, cache_create_tokens, cache_read_tokens,
         ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, (cost_nanos::numeric / 1000000000)::numeric(30, 9) AS cost, (rated_cost_nanos::numeric / 1000000000)::numeric(30, 9) AS rated_cost, last_used_at
    FROM public.usage_model_totals;
COMMENT ON VIEW reporting.usage_key_daily IS 'Per account × API key × local day. A month''s CRS residual is in the monthly views only (see README).';

-- The ledger: one row per recorded event (a request, or an aggregate imported from a relay).
CREATE VIEW reporting.usage_records AS
  SELECT request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model, requests, input_tokens, output_tokens,
         cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens,
         total_cost AS cost, coalesce(rated_cost, total_cost) AS rated_cost, cost_breakdown, metadata
    FROM public.usage_records;
COMMENT ON VIEW reporting.usage_records IS 'The raw ledger, partitioned by UTC month behind the view: filter on occurred_at or usage_date.';
