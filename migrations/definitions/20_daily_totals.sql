-- The per-day totals (tables: migrations/0004_create_daily_totals.sql) and the running totals behind /metrics
-- (migrations/0012_rollups_off_the_write_path.sql) are rollups: kept off the write path, folded in by a job
-- in the worker processes (src/rollup/), and never recomputed for days whose details retention has deleted:
-- the rollups must keep the figures of those days (README "Retention").
-- add_to_daily_totals() applies the rules of 10_rules.sql: the counted policy type of a report and domain
-- (policy_type_precedence) and the mode of an sts policy (sts_mode). This file ends by recomputing the days
-- whose details are still stored with the current rules; days already pruned keep what the rules of their
-- time computed.
-- daily_domain_totals.sts_mode is the mode of the latest report whose sts policy has one (sts_mode() is
-- not NULL), so it is NULL only with sts_mode_end_at; 0004's comment on the table predates sts_mode().

-- Adds the given reports to the per-day totals: for each (report, policy domain) group, the sessions of
-- every policy type, and those of the counted type (policy_type_precedence) with its failure details; the
-- mode of the domain's sts policy (sts_mode). The caller hands each report over once: the fold takes it off
-- rollup_queue in the same transaction, and refresh_daily_totals() first empties the days it recomputes.
-- Deltas are summed per key first, so no key is written twice, and written in key order (tables in the
-- order session, domain, failure totals), so writers lock rows in the same order.
-- (Until issue 13 this also subtracted what a group counted before a later INSERT added to it, for the
-- triggers of the write path; since the fold, every report comes whole, once.)
CREATE OR REPLACE FUNCTION add_to_daily_totals(changed_report_ids bigint[])
RETURNS void
LANGUAGE plpgsql
-- Planned for each call, with the batch's report ids in hand: a call folds a batch (hundreds of reports,
-- or the millions of a rebuild), so planning costs little next to it. A plan kept for the connection
-- would be the one made at its first fold, when the tables may be new, or just analyzed while empty (the
-- retention job's ANALYZE at start-up): such a plan read whole months through their indexes on every
-- fold, and the fold fell behind for good (issue 13; 4,000 reports in a new database never rolled up).
SET plan_cache_mode = force_custom_plan
-- Sequential scans priced out (migrations/0006): the statistics of tables that are new, or were analyzed
-- while empty, would otherwise make scanning them whole look cheaper than looking the batch up by key.
SET enable_seqscan = off
AS $fn$
DECLARE
  failure_keys bigint;
BEGIN
  WITH group_policies AS (
    SELECT r.id AS report_id, report_day(r.start_at, r.end_at) AS day, r.organization_name, r.end_at,
           p.id, p.policy_domain, p.policy_type,
           p.total_successful_session_count AS ok, p.total_failure_session_count AS failed,
           -- The mode of an sts policy (10_rules.sql); NULL for other types, or without a readable mode.
           CASE WHEN p.policy_type = 'sts' THEN sts_mode(p.policy_string) END AS mode,
           -- The sessions of each policy type in its group.
           sum(p.total_successful_session_count + p.total_failure_session_count)
             OVER (PARTITION BY r.id, p.policy_domain, p.policy_type) AS type_sessions
    FROM reports r
    JOIN policies p ON p.report_id = r.id
    WHERE r.id = ANY (changed_report_ids)
  ), ranked AS (
    -- The counted type of each group (most sessions; on a tie sts, tlsa, no-policy-found, other).
    SELECT gp.*,
           dense_rank() OVER (PARTITION BY gp.report_id, gp.policy_domain
                              ORDER BY gp.type_sessions DESC, policy_type_precedence(gp.policy_type), gp.policy_type) = 1 AS counted
    FROM group_policies gp
  ), per_type AS (
    SELECT t.day, t.organization_name, t.end_at, t.report_id, t.policy_domain, t.policy_type,
           sum(t.ok) AS ok, sum(t.failed) AS failed,
           bool_or(t.counted) AS counted,
           -- A report with two sts policies for one domain: the first one's mode.
           (array_agg(t.mode ORDER BY t.id) FILTER (WHERE t.mode IS NOT NULL))[1] AS mode
    FROM ranked t
    GROUP BY t.day, t.organization_name, t.end_at, t.report_id, t.policy_domain, t.policy_type
  ), sessions AS (
    SELECT x.day, x.policy_domain, x.organization_name, x.policy_type,
           sum(x.ok) AS successful_sessions,
           sum(x.failed) AS failed_sessions,
           count(*) AS reports,
           coalesce(sum(x.ok) FILTER (WHERE x.counted), 0) AS counted_successful_sessions,
           coalesce(sum(x.failed) FILTER (WHERE x.counted), 0) AS counted_failed_sessions,
           count(*) FILTER (WHERE x.counted) AS counted_reports
    FROM per_type x
    GROUP BY x.day, x.policy_domain, x.organization_name, x.policy_type
  ), session_upsert AS (
    INSERT INTO daily_session_totals AS s
      (day, policy_domain, organization_name, policy_type, successful_sessions, failed_sessions, reports,
       counted_successful_sessions, counted_failed_sessions, counted_reports)
    SELECT x.day, x.policy_domain, x.organization_name, x.policy_type, x.successful_sessions, x.failed_sessions, x.reports,
           x.counted_successful_sessions, x.counted_failed_sessions, x.counted_reports
    FROM sessions x
    ORDER BY x.day, x.policy_domain, x.organization_name, x.policy_type
    ON CONFLICT (day, policy_domain, organization_name, policy_type) DO UPDATE SET
      successful_sessions = s.successful_sessions + excluded.successful_sessions,
      failed_sessions = s.failed_sessions + excluded.failed_sessions,
      reports = s.reports + excluded.reports,
      counted_successful_sessions = s.counted_successful_sessions + excluded.counted_successful_sessions,
      counted_failed_sessions = s.counted_failed_sessions + excluded.counted_failed_sessions,
      counted_reports = s.counted_reports + excluded.counted_reports
    RETURNING 1
  ), moded AS (
    -- The latest report with an sts mode, per day and domain.
    SELECT x.*,
           x.mode IS NOT NULL
           AND row_number() OVER (PARTITION BY x.day, x.policy_domain, x.mode IS NULL
                                  ORDER BY x.end_at DESC, x.report_id DESC) = 1 AS latest_mode
    FROM per_type x
  ), domains AS (
    SELECT x.day, x.policy_domain,
           coalesce(sum(x.ok) FILTER (WHERE x.counted), 0) AS counted_successful_sessions,
           coalesce(sum(x.failed) FILTER (WHERE x.counted), 0) AS counted_failed_sessions,
           count(*) FILTER (WHERE x.counted) AS counted_reports,
           array_agg(DISTINCT x.organization_name ORDER BY x.organization_name) AS organizations,
           max(x.mode) FILTER (WHERE x.latest_mode) AS mode,
           max(x.end_at) FILTER (WHERE x.latest_mode) AS mode_end_at,
           max(x.report_id) FILTER (WHERE x.latest_mode) AS mode_report_id
    FROM moded x
    GROUP BY x.day, x.policy_domain
  ), domain_upsert AS (
    INSERT INTO daily_domain_totals AS t
      (day, policy_domain, counted_successful_sessions, counted_failed_sessions, counted_reports, organizations,
       sts_mode, sts_mode_end_at, sts_mode_report_id)
    SELECT x.day, x.policy_domain, x.counted_successful_sessions, x.counted_failed_sessions, x.counted_reports,
           x.organizations, x.mode, x.mode_end_at, x.mode_report_id
    FROM domains x
    ORDER BY x.day, x.policy_domain
    ON CONFLICT (day, policy_domain) DO UPDATE SET
      counted_successful_sessions = t.counted_successful_sessions + excluded.counted_successful_sessions,
      counted_failed_sessions = t.counted_failed_sessions + excluded.counted_failed_sessions,
      counted_reports = t.counted_reports + excluded.counted_reports,
      organizations = ARRAY(SELECT DISTINCT o.name FROM unnest(t.organizations || excluded.organizations) AS o(name) ORDER BY o.name),
      -- The later report's mode wins.
      (sts_mode, sts_mode_end_at, sts_mode_report_id) =
        (SELECT CASE WHEN l.later THEN excluded.sts_mode ELSE t.sts_mode END,
                CASE WHEN l.later THEN excluded.sts_mode_end_at ELSE t.sts_mode_end_at END,
                CASE WHEN l.later THEN excluded.sts_mode_report_id ELSE t.sts_mode_report_id END
         FROM (SELECT excluded.sts_mode_end_at IS NOT NULL
                      AND (t.sts_mode_end_at IS NULL
                           OR (excluded.sts_mode_end_at, excluded.sts_mode_report_id) > (t.sts_mode_end_at, t.sts_mode_report_id))
                      AS later) l)
    RETURNING 1
  ), failures AS (
    -- The failure details of the counted policies.
    SELECT t.day, t.policy_domain, d.result_type,
           sum(d.failed_session_count) AS failed_sessions,
           count(*) AS failure_details
    FROM ranked t
    JOIN failure_details d ON d.policy_id = t.id
    WHERE t.counted
    GROUP BY t.day, t.policy_domain, d.result_type
  ), failure_upsert AS (
    INSERT INTO daily_failure_totals AS f (day, policy_domain, result_type, failed_sessions, failure_details)
    SELECT x.day, x.policy_domain, x.result_type, x.failed_sessions, x.failure_details
    FROM failures x
    ORDER BY x.day, x.policy_domain, x.result_type
    ON CONFLICT (day, policy_domain, result_type) DO UPDATE SET
      failed_sessions = f.failed_sessions + excluded.failed_sessions,
      failure_details = f.failure_details + excluded.failure_details
    RETURNING 1
  )
  -- The upserts run after this reads failures, in the order they are written above.
  SELECT count(*) INTO failure_keys FROM failures;
END
$fn$;

-- Adds the given reports to the running totals behind /metrics: every policy as reported (not only the
-- counted type), and every failure detail. Reports deleted meanwhile are simply not found.
CREATE OR REPLACE FUNCTION add_to_metric_totals(changed_report_ids bigint[])
RETURNS void
LANGUAGE plpgsql
-- See add_to_daily_totals().
SET plan_cache_mode = force_custom_plan
SET enable_seqscan = off
-- See fold_rollups(): the update of rollup_state can only scan.
SET jit = off
AS $fn$
BEGIN
  -- The batch's policies read once, then each one's failure details: from the details to their policies
  -- instead, every detail looked its policy up in every month's index (more than half the fold's CPU).
  WITH batch_policies AS MATERIALIZED (
    SELECT p.id, p.report_id, p.policy_domain, p.policy_type, p.total_successful_session_count, p.total_failure_session_count
    FROM policies p
    WHERE p.report_id = ANY (changed_report_ids)
  ), session_upsert AS (
    INSERT INTO metric_session_totals AS t (policy_domain, policy_type, successful_sessions, failed_sessions, first_report_id)
    SELECT p.policy_domain, p.policy_type, sum(p.total_successful_session_count), sum(p.total_failure_session_count), min(p.report_id)
    FROM batch_policies p
    GROUP BY p.policy_domain, p.policy_type
    ORDER BY p.policy_domain, p.policy_type
    ON CONFLICT (policy_domain, policy_type) DO UPDATE SET
      successful_sessions = t.successful_sessions + excluded.successful_sessions,
      failed_sessions = t.failed_sessions + excluded.failed_sessions,
      first_report_id = least(t.first_report_id, excluded.first_report_id)
    RETURNING 1
  )
  INSERT INTO metric_failure_totals AS t (policy_domain, policy_type, result_type, failed_sessions, first_report_id)
  SELECT p.policy_domain, p.policy_type, d.result_type, sum(d.failed_session_count), min(p.report_id)
  FROM batch_policies p
  JOIN failure_details d ON d.policy_id = p.id
  GROUP BY p.policy_domain, p.policy_type, d.result_type
  ORDER BY p.policy_domain, p.policy_type, d.result_type
  ON CONFLICT (policy_domain, policy_type, result_type) DO UPDATE SET
    failed_sessions = t.failed_sessions + excluded.failed_sessions,
    first_report_id = least(t.first_report_id, excluded.first_report_id);

  UPDATE rollup_state
  SET reports_stored = reports_stored + (SELECT count(*) FROM reports r WHERE r.id = ANY (changed_report_ids));
END
$fn$;

-- The advisory lock that lets one process at a time fold or rebuild the rollups ('tlsrpt-rollup').
CREATE OR REPLACE FUNCTION rollup_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 7264501338 $$;

-- Folds up to max_reports queued reports (oldest first) into the per-day totals and the metric totals, and
-- takes them off the queue, in the caller's transaction: exactly once, since a batch that fails or whose
-- process dies is rolled back whole, queue rows included. First it recomputes the days in
-- rollup_refresh_days (migrations/0014: a later copy of a stored report changed what it counts) and takes
-- them off that table in the same transaction. Returns how many reports it took, or NULL when another
-- process holds the rollup lock (it is folding; this call did nothing). The worker calls it in a loop
-- (src/rollup/foldRollups.ts); anyone may call it, e.g. before reading the views in a script.
-- The metric totals behind /metrics are counters: a report counted before its completion stays under the
-- policy domain it was counted with there.
CREATE OR REPLACE FUNCTION fold_rollups(max_reports integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
-- By index whatever the statistics say (see add_to_daily_totals): a queue that grew while no worker ran
-- is then still taken batch by batch from its start, not sorted whole for every batch.
SET enable_seqscan = off
-- No JIT: with sequential scans priced out, a statement that can only scan (emptying rollup_refresh_days,
-- updating the one row of rollup_state) costs more than jit_above_cost, and compiling it took some 20 ms of
-- CPU on every call, every second, busy or idle: more than folding a few hundred reports (issue 13).
SET jit = off
-- Nested loops over the keys, whatever the statistics say: a batch is at most max_reports reports, each
-- looked up by key, while statistics gathered when the tables were empty (the retention job's ANALYZE at
-- start-up) made merge joins over whole months look cheaper, read on every fold: in the worker bench the
-- fold then fell behind for good (1,300 reports still queued two minutes after the last was stored).
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $fn$
DECLARE
  ids bigint[];
  days date[];
BEGIN
  IF NOT pg_try_advisory_xact_lock(rollup_lock_key()) THEN
    RETURN NULL;
  END IF;
  -- A later statement, so a later snapshot: refresh_daily_totals() sees every change whose day it took.
  WITH taken AS (DELETE FROM rollup_refresh_days RETURNING day)
  SELECT array_agg(day ORDER BY day) INTO days FROM taken;
  IF days IS NOT NULL THEN
    PERFORM refresh_daily_totals(days);
  END IF;
  WITH taken AS (
    DELETE FROM rollup_queue q
    WHERE q.report_id IN (SELECT report_id FROM rollup_queue ORDER BY report_id LIMIT max_reports)
    RETURNING q.report_id
  )
  SELECT array_agg(report_id ORDER BY report_id) INTO ids FROM taken;
  IF ids IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM add_to_daily_totals(ids);
  PERFORM add_to_metric_totals(ids);
  UPDATE rollup_state SET folded_at = now();
  RETURN cardinality(ids);
END
$fn$;

-- Recomputes the per-day totals of the given days (NULL: every day) from the reports still stored, leaving
-- queued reports to the fold. Days before rollup_state.details_kept_from, whose details retention has
-- pruned, are left as they are: their rollups are all that is left of them. With nothing ever pruned, a
-- call for every day also recomputes the report totals of /metrics (the message totals, which no rule
-- changes, are left alone). Use it after correcting stored rows by hand, or
-- after loading rows with triggers disabled (session_replication_role = replica, as the benchmark does:
-- then nothing was queued). It waits for a fold in progress; writers are not held up.
CREATE OR REPLACE FUNCTION refresh_daily_totals(refresh_days date[] DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
-- Rebuilding a year sorts and hashes millions of rows: give it the memory to do so without temporary files.
SET work_mem = '256MB'
AS $fn$
DECLARE
  ids bigint[];
  kept_from date;
BEGIN
  PERFORM pg_advisory_xact_lock(rollup_lock_key());
  SELECT details_kept_from INTO kept_from FROM rollup_state;
  kept_from := coalesce(kept_from, '-infinity');
  -- One statement, one snapshot: a report committed later is queued and left to the fold.
  SELECT array_agg(r.id ORDER BY r.id) INTO ids
  FROM reports r
  WHERE (refresh_days IS NULL OR report_day(r.start_at, r.end_at) = ANY (refresh_days))
    AND report_day(r.start_at, r.end_at) >= kept_from
    AND NOT EXISTS (SELECT 1 FROM rollup_queue q WHERE q.report_id = r.id);
  DELETE FROM daily_session_totals WHERE (refresh_days IS NULL OR day = ANY (refresh_days)) AND day >= kept_from;
  DELETE FROM daily_domain_totals WHERE (refresh_days IS NULL OR day = ANY (refresh_days)) AND day >= kept_from;
  DELETE FROM daily_failure_totals WHERE (refresh_days IS NULL OR day = ANY (refresh_days)) AND day >= kept_from;
  IF refresh_days IS NULL AND kept_from = '-infinity' THEN
    DELETE FROM metric_session_totals;
    DELETE FROM metric_failure_totals;
    UPDATE rollup_state SET reports_stored = 0;
    PERFORM add_to_metric_totals(coalesce(ids, '{}'));
  END IF;
  PERFORM add_to_daily_totals(coalesce(ids, '{}'));
END
$fn$;

-- The per-day totals of every day whose details are kept, computed by the definitions above: this file is
-- applied again whenever it or an earlier file changes (README.md in this directory), which is exactly when
-- what it computes may have changed. It does not hold writers up; on a year of reports for 1,000 domains it
-- takes about as long as the first build did (README "How the views stay fast").
SELECT refresh_daily_totals();
