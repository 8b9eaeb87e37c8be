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

-- Adds to the totals what the policies of the given reports change, for each (report, policy domain) group
-- that holds a policy inserted by the command command_xmin/command_cmin (the system columns xmin and cmin of
-- the rows it inserted; NULL: every policy counts as new, as when rebuilding). Such a group is counted as it
-- is now, minus what it counted before that command when some of its policies were stored earlier (then the
-- counted type may change). Failure details are read from the table: those of the policies counted now,
-- minus those of the policies counted before, which excludes the details inserted by the same command
-- (daily_totals_add_failure_details() leaves the details of these groups to this function).
-- Deltas are summed per key first, so no key is written twice, and written in key order (tables in the
-- order session, domain, failure totals), so writers lock rows in the same order.
CREATE OR REPLACE FUNCTION add_to_daily_totals(changed_report_ids bigint[], command_xmin xid DEFAULT NULL, command_cmin cid DEFAULT NULL)
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
  emptied_days date[];
BEGIN
  WITH group_policies AS (
    SELECT r.id AS report_id, report_day(r.start_at, r.end_at) AS day, r.organization_name, r.end_at,
           p.id, p.policy_domain, p.policy_type,
           p.total_successful_session_count AS ok, p.total_failure_session_count AS failed,
           command_xmin IS NOT NULL AND NOT (p.xmin = command_xmin AND p.cmin = command_cmin) AS earlier,
           -- The mode of an sts policy (10_rules.sql); NULL for other types, or without a readable mode.
           CASE WHEN p.policy_type = 'sts' THEN sts_mode(p.policy_string) END AS mode
    FROM reports r
    JOIN policies p ON p.report_id = r.id
    WHERE r.id = ANY (changed_report_ids)
  ), typed AS (
    -- The sessions of each policy type in its group, now and before the command.
    SELECT gp.*,
           sum(gp.ok + gp.failed) OVER w AS type_sessions,
           coalesce(sum(gp.ok + gp.failed) FILTER (WHERE gp.earlier) OVER w, 0) AS type_sessions_before,
           bool_or(gp.earlier) OVER w AS type_before,
           bool_and(gp.earlier) OVER (PARTITION BY gp.report_id, gp.policy_domain) AS unchanged
    FROM group_policies gp
    WINDOW w AS (PARTITION BY gp.report_id, gp.policy_domain, gp.policy_type)
  ), ranked AS (
    -- The counted type of each group (most sessions; on a tie sts, tlsa, no-policy-found, other), now and before.
    SELECT t.*,
           dense_rank() OVER (PARTITION BY t.report_id, t.policy_domain
                              ORDER BY t.type_sessions DESC, policy_type_precedence(t.policy_type), t.policy_type) = 1 AS counted,
           t.type_before AND dense_rank() OVER (PARTITION BY t.report_id, t.policy_domain
                              ORDER BY t.type_before DESC, t.type_sessions_before DESC,
                                       policy_type_precedence(t.policy_type), t.policy_type) = 1 AS counted_before
    FROM typed t
    WHERE NOT t.unchanged
  ), per_type AS (
    SELECT t.day, t.organization_name, t.end_at, t.report_id, t.policy_domain, t.policy_type,
           sum(t.ok) AS ok, sum(t.failed) AS failed,
           coalesce(sum(t.ok) FILTER (WHERE t.earlier), 0) AS ok_before,
           coalesce(sum(t.failed) FILTER (WHERE t.earlier), 0) AS failed_before,
           bool_or(t.earlier) AS in_before,
           bool_or(t.counted) AS counted,
           bool_or(t.counted_before) AS counted_before,
           -- A report with two sts policies for one domain: the first one's mode.
           (array_agg(t.mode ORDER BY t.id) FILTER (WHERE t.mode IS NOT NULL))[1] AS mode
    FROM ranked t
    GROUP BY t.day, t.organization_name, t.end_at, t.report_id, t.policy_domain, t.policy_type
  ), sessions AS (
    SELECT x.day, x.policy_domain, x.organization_name, x.policy_type,
           sum(x.ok - x.ok_before) AS successful_sessions,
           sum(x.failed - x.failed_before) AS failed_sessions,
           count(*) FILTER (WHERE NOT x.in_before) AS reports,
           sum(CASE WHEN x.counted THEN x.ok ELSE 0 END) - sum(CASE WHEN x.counted_before THEN x.ok_before ELSE 0 END)
             AS counted_successful_sessions,
           sum(CASE WHEN x.counted THEN x.failed ELSE 0 END) - sum(CASE WHEN x.counted_before THEN x.failed_before ELSE 0 END)
             AS counted_failed_sessions,
           count(*) FILTER (WHERE x.counted) - count(*) FILTER (WHERE x.counted_before) AS counted_reports
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
           sum(CASE WHEN x.counted THEN x.ok ELSE 0 END) - sum(CASE WHEN x.counted_before THEN x.ok_before ELSE 0 END)
             AS counted_successful_sessions,
           sum(CASE WHEN x.counted THEN x.failed ELSE 0 END) - sum(CASE WHEN x.counted_before THEN x.failed_before ELSE 0 END)
             AS counted_failed_sessions,
           count(*) FILTER (WHERE x.counted) - count(*) FILTER (WHERE x.counted_before) AS counted_reports,
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
    -- +1 for each detail of a policy counted now, -1 for each detail counted before the command.
    SELECT t.day, t.policy_domain, d.result_type,
           sum(s.sign * d.failed_session_count) AS failed_sessions,
           sum(s.sign) AS failure_details
    FROM ranked t
    JOIN failure_details d ON d.policy_id = t.id
    CROSS JOIN LATERAL (
      SELECT t.counted::integer
             - (t.counted_before AND t.earlier AND (d.xmin = command_xmin AND d.cmin = command_cmin) IS NOT TRUE)::integer AS sign
    ) s
    WHERE t.counted OR (t.counted_before AND t.earlier)
    GROUP BY t.day, t.policy_domain, d.result_type
    HAVING sum(s.sign) <> 0 OR sum(s.sign * d.failed_session_count) <> 0
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
  SELECT array_agg(DISTINCT x.day) FILTER (WHERE x.failure_details < 0) INTO emptied_days FROM failures x;

  -- A result type no longer counted (its group's counted type changed) leaves rows without details.
  IF emptied_days IS NOT NULL THEN
    DELETE FROM daily_failure_totals WHERE day = ANY (emptied_days) AND failure_details = 0;
  END IF;
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
  INSERT INTO metric_session_totals AS t (policy_domain, policy_type, successful_sessions, failed_sessions, first_report_id)
  SELECT p.policy_domain, p.policy_type, sum(p.total_successful_session_count), sum(p.total_failure_session_count), min(p.report_id)
  FROM policies p
  WHERE p.report_id = ANY (changed_report_ids)
  GROUP BY p.policy_domain, p.policy_type
  ORDER BY p.policy_domain, p.policy_type
  ON CONFLICT (policy_domain, policy_type) DO UPDATE SET
    successful_sessions = t.successful_sessions + excluded.successful_sessions,
    failed_sessions = t.failed_sessions + excluded.failed_sessions,
    first_report_id = least(t.first_report_id, excluded.first_report_id);

  INSERT INTO metric_failure_totals AS t (policy_domain, policy_type, result_type, failed_sessions, first_report_id)
  SELECT p.policy_domain, p.policy_type, d.result_type, sum(d.failed_session_count), min(d.report_id)
  FROM failure_details d
  JOIN policies p ON p.id = d.policy_id
  WHERE d.report_id = ANY (changed_report_ids)
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
