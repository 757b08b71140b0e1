-- Issue 26: the console's last 60 minutes (live.repository.ts) of the whole list read the current
-- month's partition of usage_records from its start: the planner chose a sequential scan over the
-- account/date/hour index for 200 accounts (8.6 ms at 2M records, seven days into the month;
-- the accounts list's service p50 was 64 ms at 10M), and that grows with the month and the relay.
-- A BRIN index on occurred_at costs ingest almost nothing (events arrive in time order, so a page
-- range is summarised once) and lets the last hour read only the page ranges of the last hour
-- (1.4 ms on the same data). autosummarize asks autovacuum to summarise each range once filled;
-- ranges not summarised yet (the newest) are always read, which is where the last hour is.
CREATE INDEX usage_records_occurred_at_brin ON usage_records USING brin (occurred_at) WITH (autosummarize = on);
