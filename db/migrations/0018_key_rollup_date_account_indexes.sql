-- Issue 26: the date indexes of 0015 (usage_date alone, usage_month alone) led the planner astray on
-- one account's range: their scans are cheap by its cost model (the heap is in date order), so it
-- read a busy account's months through usage_key_monthly_month_idx and fetched every account's rows
-- of those months only to drop them by account_id (3,000 accounts × 100,000 keys, acc-0000 with
-- 21,000 keys: 199,016 heap rows fetched for 42,000 kept, 166 ms; 11 ms through the primary key).
-- With account_id as their second column the same scans test it inside the index and fetch only
-- the account's rows, and the cost model then prefers the primary key where it reads less. The
-- API key page's reads of one day or month across accounts use the leading column as before.
-- account_id never changes, so updates stay HOT; one index replaces another per table.
CREATE INDEX usage_key_daily_date_account_idx ON usage_key_daily (usage_date, account_id);
DROP INDEX usage_key_daily_date_idx;
CREATE INDEX usage_key_monthly_month_account_idx ON usage_key_monthly (usage_month, account_id);
DROP INDEX usage_key_monthly_month_idx;
