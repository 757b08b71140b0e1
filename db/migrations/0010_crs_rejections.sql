-- What the CRS follower could not take (a record that is not JSON, a key of the wrong type, an
-- account that is not CRS's), counted per reason, and how many polls in a row failed: the follower
-- goes on past a bad record, and /admin/health turns degraded while a source keeps failing.
ALTER TABLE crs_follower_status
  ADD COLUMN rejected           bigint  NOT NULL DEFAULT 0,
  ADD COLUMN rejections         jsonb   NOT NULL DEFAULT '{}'::jsonb,
  ADD COLUMN last_rejection     text,
  ADD COLUMN last_rejection_at  timestamptz,
  ADD COLUMN consecutive_errors integer NOT NULL DEFAULT 0;

COMMENT ON COLUMN crs_follower_status.rejections IS 'reason -> count of what the follower skipped (see server/crs/rejections.ts)';
