-- Up Migration

-- Measured on the 2-core reference machine (EXPLAIN ANALYZE of the worker's store statement, 64 reports):
-- these two changes take about a quarter off Postgres's time per stored report.

-- failure_details.report_id repeats the report of the detail's policy, set from it by the same statement
-- (src/store/storeReport.ts). Its foreign key was a second per-row check on every detail row; deleting a
-- report still deletes its details, through policies (ON DELETE CASCADE on policy_id). The column and its
-- index stay: queries by report use them.
ALTER TABLE failure_details DROP CONSTRAINT failure_details_report_id_fkey;

-- report_json is compressed when a report is larger than about 2 kB. lz4 compresses several times faster
-- than the default pglz, for a little more space. Only where the server was built with lz4 (PostgreSQL 14+
-- from Debian, the PGDG packages and the official images are); elsewhere pglz stays.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE reports ALTER COLUMN report_json SET COMPRESSION lz4;
  END IF;
END
$$;

-- Down Migration
ALTER TABLE reports ALTER COLUMN report_json SET COMPRESSION default;
ALTER TABLE failure_details
  ADD CONSTRAINT failure_details_report_id_fkey FOREIGN KEY (report_id) REFERENCES reports (id) ON DELETE CASCADE;
