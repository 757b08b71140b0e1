-- Issue 24: the console's 近1小时 (last 60 minutes) figure reads usage_records, the only place that
-- knows an event's minute. The account index gains the local hour, so that the last hour of an
-- account is an index range over about two hours of its records rather than over its whole day;
-- the (account_id, usage_date) prefix still serves every query the old index served. One index
-- replaces another: ingest keeps the same number of index writes per event.
CREATE INDEX usage_records_account_hour_idx ON usage_records (account_id, usage_date, usage_hour);
DROP INDEX usage_records_account_date_idx;
