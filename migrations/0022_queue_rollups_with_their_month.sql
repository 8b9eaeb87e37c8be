-- Up Migration

-- The fold reads only the month partitions of the reports it folds (issue 13: PostgreSQL's CPU per report).
--
-- fold_rollups() (definitions/20_daily_totals.sql) finds the policies and failure details of the reports it
-- takes by report id. reports, policies and failure_details are partitioned by month of stored_at
-- (migrations/0013), and a report id says nothing about that month: every lookup went to every partition's
-- index, a year of months plus the two created ahead, for each report of each batch. The queue now records
-- each report's stored_at, so the fold can name the months of its batch (a report and its rows are always in
-- one month, 0013) and PostgreSQL prunes the other partitions before reading them.
-- A row queued before this migration has no stored_at: a batch holding one reads every month, as before.
ALTER TABLE rollup_queue ADD COLUMN stored_at timestamptz;
COMMENT ON COLUMN rollup_queue.stored_at IS 'reports.stored_at of the queued report (its month partition); NULL when queued before 0022';

-- 0012's trigger function, now with stored_at. The trigger itself is unchanged (it names the function).
CREATE OR REPLACE FUNCTION rollup_queue_reports() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
  INSERT INTO rollup_queue (report_id, stored_at) SELECT n.id, n.stored_at FROM new_reports n ORDER BY n.id;
  RETURN NULL;
END
$fn$;

-- fold_rollups() reads it (definitions/20_daily_totals.sql, applied again after this migration).
DELETE FROM schema_definitions WHERE name = '20_daily_totals.sql';

-- Down Migration

-- The earlier version's "tlsrpt migrate" applies its own 20_daily_totals.sql (its row is deleted here),
-- whose fold_rollups() does not read the column. The functions the new file added (fold_into_daily_totals(),
-- fold_into_metric_totals()) are left: nothing calls them then, and the next upgrade replaces them.
CREATE OR REPLACE FUNCTION rollup_queue_reports() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
  INSERT INTO rollup_queue (report_id) SELECT n.id FROM new_reports n ORDER BY n.id;
  RETURN NULL;
END
$fn$;
ALTER TABLE rollup_queue DROP COLUMN stored_at;
DELETE FROM schema_definitions WHERE name = '20_daily_totals.sql';
