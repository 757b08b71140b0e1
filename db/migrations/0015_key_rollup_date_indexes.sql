-- Issue 24: the API key page lists keys across every account for one day or one month, reading
-- usage_key_daily / usage_key_monthly by date alone; their primary keys lead with account_id, so
-- without these a day's keys were a scan of the table's whole history. Rows of a day are written
-- on that day, so the index scan reads few pages. The columns never change, so updates stay HOT.
CREATE INDEX usage_key_daily_date_idx ON usage_key_daily (usage_date);
CREATE INDEX usage_key_monthly_month_idx ON usage_key_monthly (usage_month);
