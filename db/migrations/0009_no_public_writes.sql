-- Issue 19: what any role of this database may write without being granted anything. PostgreSQL
-- gives PUBLIC the TEMP privilege on every database and EXECUTE on the functions that create
-- large objects, so the read-only BI role (`npm run db:grant-reporting`) could fill the disk with
-- temporary tables or large objects once it turned off its own `default_transaction_read_only`.
-- Nothing of ours uses either (the database's owner keeps TEMP, a superuser both). Run by a role
-- that owns neither the database nor the functions, these REVOKEs only warn: db:grant-reporting
-- repeats them as an administrator and checks what the role can write.
DO $$ BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END $$;
REVOKE EXECUTE ON FUNCTION pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer), pg_catalog.lo_from_bytea(oid, bytea) FROM PUBLIC;
