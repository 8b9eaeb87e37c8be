-- Up Migration

-- Per-day totals become rollups kept off the write path (issue 13, decisions 1, 2 and 6).
--
-- Until now triggers on policies and failure_details added each stored report to the per-day totals inside
-- the worker's write (about 0.3 ms of PostgreSQL's 0.65 ms per report), and triggers on UPDATE and DELETE
-- rebuilt the days of changed rows from the rows that remained: deleting old failure details to save space
-- took those days' totals to zero. Now:
-- - the write only queues the new report's id (rollup_queue, one small row per report);
-- - a job in the worker processes folds queued reports into the per-day tables in batches, one process at a
--   time, deleting them from the queue in the same transaction: each report is added exactly once, and a
--   crash mid-batch rolls the whole batch back (fold_rollups(), migrations/definitions/20_daily_totals.sql);
-- - nothing updates the totals when rows are updated or deleted: the totals outlive the details, so
--   retention can delete details and raw bytes while the daily views, the readiness verdict and /metrics
--   keep the figures of those days. A hand correction of stored rows is followed by refresh_daily_totals()
--   for the days it touched, which recomputes them from the details still stored.
-- The trigger functions of 0004 stay (unused) for this migration's down section.

DROP TRIGGER policies_insert_daily_totals ON policies;
DROP TRIGGER failure_details_insert_daily_totals ON failure_details;
DROP TRIGGER reports_update_daily_totals ON reports;
DROP TRIGGER reports_delete_daily_totals ON reports;
DROP TRIGGER policies_update_daily_totals ON policies;
DROP TRIGGER policies_delete_daily_totals ON policies;
DROP TRIGGER failure_details_update_daily_totals ON failure_details;
DROP TRIGGER failure_details_delete_daily_totals ON failure_details;
DROP TRIGGER policies_truncate_daily_totals ON policies;
DROP TRIGGER failure_details_truncate_daily_totals ON failure_details;

-- Reports stored and not yet folded into the rollups. No foreign key: the fold skips a report deleted
-- before it was folded, and retention never has to look here. Its oldest row is the rollup lag
-- (tlsrpt_rollup_lag_seconds in /metrics, `tlsrpt stats`).
CREATE TABLE rollup_queue (
  report_id  bigint      PRIMARY KEY,
  -- When the storing transaction began.
  queued_at  timestamptz NOT NULL DEFAULT now()
);

-- AFTER INSERT ON reports, once per statement: the worker stores a batch of reports with their policies
-- and failure details in one statement and one transaction, so a report is queued with everything it
-- holds, and the fold, which sees only committed rows, reads it whole. Rows that another tool adds to an
-- already folded report are not counted: run refresh_daily_totals() for its days afterwards.
CREATE FUNCTION rollup_queue_reports() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
  INSERT INTO rollup_queue (report_id) SELECT n.id FROM new_reports n ORDER BY n.id;
  RETURN NULL;
END
$fn$;

-- A table that replaces reports (a partitioned one, say) needs this trigger again: statement triggers with
-- a transition table work on a partitioned table.
CREATE TRIGGER reports_queue_rollup AFTER INSERT ON reports
  REFERENCING NEW TABLE AS new_reports FOR EACH STATEMENT EXECUTE FUNCTION rollup_queue_reports();

-- Running totals behind /metrics (decision 6), kept by the same fold so that a scrape, even the first one
-- after a restart, reads a few thousand rows however long the history. Unlike the per-day totals they count
-- every policy type as reported (tlsrpt_sessions_total has a policy_type label). first_report_id orders the
-- domains that get a series of their own (METRICS_MAX_DOMAINS) by their first report, as before.
CREATE TABLE metric_session_totals (
  policy_domain        text,
  policy_type          text   NOT NULL,
  successful_sessions  bigint NOT NULL,
  failed_sessions      bigint NOT NULL,
  first_report_id      bigint NOT NULL,
  CONSTRAINT metric_session_totals_key UNIQUE NULLS NOT DISTINCT (policy_domain, policy_type)
);

CREATE TABLE metric_failure_totals (
  policy_domain    text,
  policy_type      text   NOT NULL,
  result_type      text   NOT NULL,
  failed_sessions  bigint NOT NULL,
  first_report_id  bigint NOT NULL,
  CONSTRAINT metric_failure_totals_key UNIQUE NULLS NOT DISTINCT (policy_domain, policy_type, result_type)
);

-- One row: what the fold has counted that is not per domain.
CREATE TABLE rollup_state (
  singleton        boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  -- Distinct reports folded (tlsrpt_reports_stored_total).
  reports_stored   bigint      NOT NULL DEFAULT 0,
  -- raw_messages folded into message_totals: every id up to message_mark (src/metrics/messageTotals.ts).
  message_mark     bigint      NOT NULL DEFAULT 0,
  -- Messages by channel and outcome, quarantine reasons and the processing-delay histogram, as JSON
  -- written by src/metrics/messageTotals.ts; NULL until the first fold.
  message_totals   jsonb,
  folded_at        timestamptz,
  -- The first UTC day (report_day()) whose reports all still have their details: retention sets it when it
  -- prunes. refresh_daily_totals() recomputes only from this day on, so the rollups of pruned days stay.
  -- NULL: nothing was ever pruned.
  details_kept_from date
);

-- The history stored so far: the per-day totals are already exact (0004's triggers kept them); the metric
-- totals start from the stored rows, once.
INSERT INTO rollup_state (reports_stored) SELECT count(*) FROM reports;

INSERT INTO metric_session_totals (policy_domain, policy_type, successful_sessions, failed_sessions, first_report_id)
SELECT policy_domain, policy_type, sum(total_successful_session_count), sum(total_failure_session_count), min(report_id)
FROM policies GROUP BY policy_domain, policy_type;

INSERT INTO metric_failure_totals (policy_domain, policy_type, result_type, failed_sessions, first_report_id)
SELECT p.policy_domain, p.policy_type, d.result_type, sum(d.failed_session_count), min(d.report_id)
FROM failure_details d JOIN policies p ON p.id = d.policy_id
GROUP BY p.policy_domain, p.policy_type, d.result_type;

-- The definitions that read these tables (fold_rollups(), the new refresh_daily_totals()) are applied
-- after this migration: 20_daily_totals.sql changed with it.
DELETE FROM schema_definitions WHERE name = '20_daily_totals.sql';

-- Down Migration

-- Reports still queued are added as 0004's triggers would have added them.
SELECT add_to_daily_totals(ARRAY(SELECT report_id FROM rollup_queue ORDER BY report_id));
DROP TABLE rollup_state;
DROP TABLE metric_failure_totals;
DROP TABLE metric_session_totals;
DROP TRIGGER reports_queue_rollup ON reports;
DROP FUNCTION rollup_queue_reports();
DROP TABLE rollup_queue;
DROP FUNCTION IF EXISTS fold_rollups(integer);
DROP FUNCTION IF EXISTS add_to_metric_totals(bigint[]);
DROP FUNCTION IF EXISTS rollup_lock_key();
DELETE FROM schema_definitions WHERE name = '20_daily_totals.sql';
-- 0004's rebuild, which the definitions replaced with one that reads the tables dropped above.
CREATE OR REPLACE FUNCTION refresh_daily_totals(refresh_days date[] DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
SET work_mem = '256MB'
AS $fn$
BEGIN
  LOCK TABLE daily_session_totals, daily_domain_totals, daily_failure_totals IN SHARE ROW EXCLUSIVE MODE;
  IF refresh_days IS NULL THEN
    TRUNCATE daily_session_totals, daily_domain_totals, daily_failure_totals;
    PERFORM add_to_daily_totals(ARRAY(SELECT r.id FROM reports r));
  ELSE
    DELETE FROM daily_session_totals WHERE day = ANY (refresh_days);
    DELETE FROM daily_domain_totals WHERE day = ANY (refresh_days);
    DELETE FROM daily_failure_totals WHERE day = ANY (refresh_days);
    PERFORM add_to_daily_totals(ARRAY(SELECT r.id FROM reports r WHERE report_day(r.start_at, r.end_at) = ANY (refresh_days)));
  END IF;
END
$fn$;

CREATE TRIGGER policies_insert_daily_totals AFTER INSERT ON policies
  REFERENCING NEW TABLE AS new_policies FOR EACH STATEMENT EXECUTE FUNCTION daily_totals_add_policies();
CREATE TRIGGER failure_details_insert_daily_totals AFTER INSERT ON failure_details
  REFERENCING NEW TABLE AS new_details FOR EACH STATEMENT EXECUTE FUNCTION daily_totals_add_failure_details();
CREATE TRIGGER reports_update_daily_totals AFTER UPDATE ON reports
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION daily_totals_refresh_changed();
CREATE TRIGGER reports_delete_daily_totals AFTER DELETE ON reports
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION daily_totals_refresh_changed();
CREATE TRIGGER policies_update_daily_totals AFTER UPDATE ON policies
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION daily_totals_refresh_changed();
CREATE TRIGGER policies_delete_daily_totals AFTER DELETE ON policies
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION daily_totals_refresh_changed();
CREATE TRIGGER failure_details_update_daily_totals AFTER UPDATE ON failure_details
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION daily_totals_refresh_changed();
CREATE TRIGGER failure_details_delete_daily_totals AFTER DELETE ON failure_details
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION daily_totals_refresh_changed();
CREATE TRIGGER policies_truncate_daily_totals AFTER TRUNCATE ON policies
  FOR EACH STATEMENT EXECUTE FUNCTION daily_totals_truncate();
CREATE TRIGGER failure_details_truncate_daily_totals AFTER TRUNCATE ON failure_details
  FOR EACH STATEMENT EXECUTE FUNCTION daily_totals_truncate();
