-- Up Migration

-- Per-day totals behind enforce_readiness_for(), daily_policy_stats and daily_domain_stats (issue 8, "Scale").
-- Those used to recompute every report's numbers from reports, policies and failure_details at each query:
-- about 2 s for the readiness verdict and 4 s for a year of daily_policy_stats on a year of reports for 1,000
-- domains. The totals below hold the same numbers per day, domain, reporter and policy type, so the queries
-- read a few thousand rows instead. Triggers on the three core tables keep them exact whatever inserts the
-- rows, in one statement or several (src/store/storeReport.ts writes a report, its policies and failure
-- details in one statement); refresh_daily_totals() rebuilds them from the core tables.
-- The views keep their names, columns and results (README "Querying the reports"); report_domain_sessions
-- and failure_stats are per report and per failure and still read the core tables.

-- The order in which policy types are counted on a tie (see report_domain_sessions in 0002): sts, then tlsa,
-- then no-policy-found, then any other type (alphabetically, by the caller's next sort key).
CREATE FUNCTION policy_type_precedence(policy_type text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE policy_type WHEN 'sts' THEN 0 WHEN 'tlsa' THEN 1 WHEN 'no-policy-found' THEN 2 ELSE 3 END
$$;

-- One row per day, policy domain, reporter and policy type: what daily_policy_stats shows, plus the part of
-- it that counts in totals across policy types (the counted_* columns: only the reports that count this type
-- for the domain, as report_domain_sessions chooses it), which daily_domain_stats adds up.
CREATE TABLE daily_session_totals (
  day                          date   NOT NULL,
  policy_domain                text,
  organization_name            text   NOT NULL,
  policy_type                  text   NOT NULL,
  -- Every policy of this type, as reported: sums of the policies' totals, and distinct reports.
  successful_sessions          bigint NOT NULL,
  failed_sessions              bigint NOT NULL,
  reports                      bigint NOT NULL,
  -- Only the reports that count this type for the domain (one type per report and domain).
  counted_successful_sessions  bigint NOT NULL,
  counted_failed_sessions      bigint NOT NULL,
  counted_reports              bigint NOT NULL,
  CONSTRAINT daily_session_totals_key UNIQUE NULLS NOT DISTINCT (day, policy_domain, organization_name, policy_type)
);

-- One domain over any range of days (tlsrpt stats --domain, daily_domain_stats WHERE policy_domain = ...).
CREATE INDEX daily_session_totals_domain_idx ON daily_session_totals (policy_domain, day);

-- One row per day and policy domain, what the readiness verdict needs: the counted sessions of all reporters,
-- which reporters sent reports, and the mode of the latest sts policy. A fifth of the rows of
-- daily_session_totals with five reporters, so the verdict over 1,000 domains reads 14,000 rows, not 70,000.
CREATE TABLE daily_domain_totals (
  day                          date   NOT NULL,
  policy_domain                text,
  counted_successful_sessions  bigint NOT NULL,
  counted_failed_sessions      bigint NOT NULL,
  counted_reports              bigint NOT NULL,
  -- The reporters (organization_name) with a report for the domain that day, sorted, each once.
  organizations                text[] NOT NULL,
  -- The mode of the latest report (largest end_at, then report id) with an sts policy for the domain that
  -- has a "mode:" line: sts_mode_end_at is NULL when no report has one, sts_mode when the line has no value.
  sts_mode                     text,
  sts_mode_end_at              timestamptz,
  sts_mode_report_id           bigint,
  CONSTRAINT daily_domain_totals_key UNIQUE NULLS NOT DISTINCT (day, policy_domain)
);

-- Failed sessions per day, policy domain and result type, from the failure details of the counted policies
-- only (the failures failure_stats lists): the verdict's "most failed sessions" without reading the details.
CREATE TABLE daily_failure_totals (
  day              date   NOT NULL,
  policy_domain    text,
  result_type      text   NOT NULL,
  failed_sessions  bigint NOT NULL,
  -- How many failure-detail rows were added up; a row exists only while this is above zero.
  failure_details  bigint NOT NULL,
  CONSTRAINT daily_failure_totals_key UNIQUE NULLS NOT DISTINCT (day, policy_domain, result_type)
);

-- Adds to the totals what the policies of the given reports change, for each (report, policy domain) group
-- that holds a policy inserted by the command command_xmin/command_cmin (the system columns xmin and cmin of
-- the rows it inserted; NULL: every policy counts as new, as when rebuilding). Such a group is counted as it
-- is now, minus what it counted before that command when some of its policies were stored earlier (then the
-- counted type may change). Failure details are read from the table: those of the policies counted now,
-- minus those of the policies counted before, which excludes the details inserted by the same command
-- (daily_totals_add_failure_details() leaves the details of these groups to this function).
-- Deltas are summed per key first, so no key is written twice, and written in key order (tables in the
-- order session, domain, failure totals), so writers lock rows in the same order.
CREATE FUNCTION add_to_daily_totals(changed_report_ids bigint[], command_xmin xid DEFAULT NULL, command_cmin cid DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
-- Plan the query once per connection: planning it again for each stored report (PostgreSQL's choice for a
-- custom plan per array argument) took longer than running it. The generic plan reads the given reports
-- by index, which also suits the millions of a rebuild.
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  emptied_days date[];
BEGIN
  WITH group_policies AS (
    SELECT r.id AS report_id, report_day(r.start_at, r.end_at) AS day, r.organization_name, r.end_at,
           p.id, p.policy_domain, p.policy_type,
           p.total_successful_session_count AS ok, p.total_failure_session_count AS failed,
           command_xmin IS NOT NULL AND NOT (p.xmin = command_xmin AND p.cmin = command_cmin) AS earlier,
           -- The first "mode:" line of an sts policy-string (RFC 8461 3.2, which reporters copy per RFC 8460 4.4).
           CASE WHEN p.policy_type = 'sts' THEN
             (SELECT line FROM unnest(p.policy_string) AS line WHERE line ~* '^\s*mode\s*:' LIMIT 1)
           END AS mode_line
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
           -- A report with two sts policies for one domain: the first one's mode line.
           (array_agg(t.mode_line ORDER BY t.id) FILTER (WHERE t.mode_line IS NOT NULL))[1] AS mode_line
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
    -- The latest report with a mode line, per day and domain.
    SELECT x.*,
           x.mode_line IS NOT NULL
           AND row_number() OVER (PARTITION BY x.day, x.policy_domain, x.mode_line IS NULL
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
           max(x.mode_line) FILTER (WHERE x.latest_mode) AS mode_line,
           max(x.end_at) FILTER (WHERE x.latest_mode) AS mode_end_at,
           max(x.report_id) FILTER (WHERE x.latest_mode) AS mode_report_id
    FROM moded x
    GROUP BY x.day, x.policy_domain
  ), domain_upsert AS (
    INSERT INTO daily_domain_totals AS t
      (day, policy_domain, counted_successful_sessions, counted_failed_sessions, counted_reports, organizations,
       sts_mode, sts_mode_end_at, sts_mode_report_id)
    SELECT x.day, x.policy_domain, x.counted_successful_sessions, x.counted_failed_sessions, x.counted_reports,
           x.organizations, lower(substring(x.mode_line FROM '^\s*mode\s*:\s*(\S+)')), x.mode_end_at, x.mode_report_id
    FROM domains x
    ORDER BY x.day, x.policy_domain
    ON CONFLICT (day, policy_domain) DO UPDATE SET
      counted_successful_sessions = t.counted_successful_sessions + excluded.counted_successful_sessions,
      counted_failed_sessions = t.counted_failed_sessions + excluded.counted_failed_sessions,
      counted_reports = t.counted_reports + excluded.counted_reports,
      organizations = ARRAY(SELECT DISTINCT o.name FROM unnest(t.organizations || excluded.organizations) AS o(name) ORDER BY o.name),
      -- The later report's mode line wins.
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

-- Rebuilds the totals of the given days (all days when NULL) from the core tables. The UPDATE and DELETE
-- triggers call it; call it yourself after loading rows with triggers disabled
-- (session_replication_role = replica), as the benchmark does. It waits for writers in progress and blocks
-- new ones until the transaction ends, so that no concurrent insert is counted twice or lost (with the
-- default READ COMMITTED isolation, where the rebuild sees what those writers committed).
CREATE FUNCTION refresh_daily_totals(refresh_days date[] DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
-- Rebuilding a year sorts and hashes millions of rows: give it the memory to do so without temporary files.
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

-- AFTER INSERT ON policies, once per statement: adds the new policies (and the failure details of theirs
-- that the same statement, or an earlier one, inserted).
CREATE FUNCTION daily_totals_add_policies() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
  report_ids bigint[];
  command_xmin xid;
  command_cmin cid;
BEGIN
  SELECT array_agg(DISTINCT n.report_id) INTO report_ids FROM new_policies n;
  IF report_ids IS NULL THEN
    RETURN NULL;
  END IF;
  -- The inserting command: xmin and cmin of a row it inserted (PostgreSQL "System Columns").
  SELECT p.xmin, p.cmin INTO command_xmin, command_cmin FROM policies p WHERE p.id = (SELECT n.id FROM new_policies n LIMIT 1);
  PERFORM add_to_daily_totals(report_ids, command_xmin, command_cmin);
  RETURN NULL;
END
$fn$;

-- AFTER INSERT ON failure_details, once per statement: adds the details inserted after their policy, by a
-- later statement. A detail whose (report, domain) group got a policy in this same command is left to
-- daily_totals_add_policies(), which reads it from the table: that is the usual case, a report stored with
-- its policies and details in one statement, and then this function only looks up the details' policies.
CREATE FUNCTION daily_totals_add_failure_details() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
  command_xmin xid;
  command_cmin cid;
  late_counted bigint[];
BEGIN
  SELECT d.xmin, d.cmin INTO command_xmin, command_cmin
  FROM failure_details d WHERE d.id = (SELECT n.id FROM new_details n LIMIT 1);
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  -- The usual case, and the only one in tlsrpt: every new detail's policy was inserted by this same
  -- command (a report stored in one statement), so its group is the policies trigger's. Checked first
  -- with one index lookup per policy: the general query below costs several milliseconds per batch.
  IF NOT EXISTS (
    SELECT 1 FROM (SELECT DISTINCT n.policy_id FROM new_details n) n
    JOIN policies p ON p.id = n.policy_id
    WHERE NOT (p.xmin = command_xmin AND p.cmin = command_cmin)
  ) THEN
    RETURN NULL;
  END IF;

  -- Policies of the new details that were stored earlier, with no policy of their group stored by this
  -- command, and of the type their group counts.
  SELECT array_agg(p.id) INTO late_counted
  FROM (SELECT DISTINCT n.policy_id FROM new_details n) n
  JOIN policies p ON p.id = n.policy_id
  WHERE NOT EXISTS (
          SELECT 1 FROM policies q
          WHERE q.report_id = p.report_id AND q.policy_domain IS NOT DISTINCT FROM p.policy_domain
            AND q.xmin = command_xmin AND q.cmin = command_cmin)
    AND p.policy_type = (
          SELECT q.policy_type FROM policies q
          WHERE q.report_id = p.report_id AND q.policy_domain IS NOT DISTINCT FROM p.policy_domain
          GROUP BY q.policy_type
          ORDER BY sum(q.total_successful_session_count + q.total_failure_session_count) DESC,
                   policy_type_precedence(q.policy_type), q.policy_type
          LIMIT 1);
  IF late_counted IS NULL THEN
    RETURN NULL;
  END IF;

  INSERT INTO daily_failure_totals AS f (day, policy_domain, result_type, failed_sessions, failure_details)
  SELECT report_day(r.start_at, r.end_at), p.policy_domain, n.result_type, sum(n.failed_session_count), count(*)
  FROM new_details n
  JOIN policies p ON p.id = n.policy_id
  JOIN reports r ON r.id = p.report_id
  WHERE n.policy_id = ANY (late_counted)
  GROUP BY 1, 2, 3
  ORDER BY 1, 2, 3
  ON CONFLICT (day, policy_domain, result_type) DO UPDATE SET
    failed_sessions = f.failed_sessions + excluded.failed_sessions,
    failure_details = f.failure_details + excluded.failure_details;
  RETURN NULL;
END
$fn$;

-- AFTER UPDATE or DELETE ON reports, policies or failure_details, once per statement: rebuilds the days
-- the changed rows were on. Nothing in tlsrpt updates or deletes these rows; an administrator may (a
-- retention DELETE, a correction). Deleting a report deletes its policies and details (ON DELETE CASCADE):
-- the report's days are rebuilt once, by the reports trigger, since the cascaded rows no longer have a
-- report to be counted on.
CREATE FUNCTION daily_totals_refresh_changed() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
  days date[];
BEGIN
  IF TG_TABLE_NAME = 'reports' THEN
    IF TG_OP = 'DELETE' THEN
      SELECT array_agg(DISTINCT report_day(o.start_at, o.end_at)) INTO days FROM old_rows o;
    ELSE
      SELECT array_agg(DISTINCT report_day(c.start_at, c.end_at)) INTO days
      FROM ((SELECT o.id, o.organization_name, o.start_at, o.end_at FROM old_rows o
             EXCEPT SELECT n.id, n.organization_name, n.start_at, n.end_at FROM new_rows n)
            UNION ALL
            (SELECT n.id, n.organization_name, n.start_at, n.end_at FROM new_rows n
             EXCEPT SELECT o.id, o.organization_name, o.start_at, o.end_at FROM old_rows o)) c;
    END IF;
  ELSIF TG_TABLE_NAME = 'policies' THEN
    IF TG_OP = 'DELETE' THEN
      SELECT array_agg(DISTINCT report_day(r.start_at, r.end_at)) INTO days
      FROM old_rows o JOIN reports r ON r.id = o.report_id;
    ELSE
      SELECT array_agg(DISTINCT report_day(r.start_at, r.end_at)) INTO days
      FROM ((SELECT o.id, o.report_id, o.policy_type, o.policy_domain, o.policy_string,
                    o.total_successful_session_count, o.total_failure_session_count FROM old_rows o
             EXCEPT SELECT n.id, n.report_id, n.policy_type, n.policy_domain, n.policy_string,
                    n.total_successful_session_count, n.total_failure_session_count FROM new_rows n)
            UNION ALL
            (SELECT n.id, n.report_id, n.policy_type, n.policy_domain, n.policy_string,
                    n.total_successful_session_count, n.total_failure_session_count FROM new_rows n
             EXCEPT SELECT o.id, o.report_id, o.policy_type, o.policy_domain, o.policy_string,
                    o.total_successful_session_count, o.total_failure_session_count FROM old_rows o)) c
      JOIN reports r ON r.id = c.report_id;
    END IF;
  ELSE
    IF TG_OP = 'DELETE' THEN
      SELECT array_agg(DISTINCT report_day(r.start_at, r.end_at)) INTO days
      FROM old_rows o JOIN policies p ON p.id = o.policy_id JOIN reports r ON r.id = p.report_id;
    ELSE
      SELECT array_agg(DISTINCT report_day(r.start_at, r.end_at)) INTO days
      FROM ((SELECT o.id, o.policy_id, o.result_type, o.failed_session_count FROM old_rows o
             EXCEPT SELECT n.id, n.policy_id, n.result_type, n.failed_session_count FROM new_rows n)
            UNION ALL
            (SELECT n.id, n.policy_id, n.result_type, n.failed_session_count FROM new_rows n
             EXCEPT SELECT o.id, o.policy_id, o.result_type, o.failed_session_count FROM old_rows o)) c
      JOIN policies p ON p.id = c.policy_id JOIN reports r ON r.id = p.report_id;
    END IF;
  END IF;
  IF days IS NOT NULL THEN
    PERFORM refresh_daily_totals(days);
  END IF;
  RETURN NULL;
END
$fn$;

-- AFTER TRUNCATE ON policies or failure_details (TRUNCATE reports CASCADE truncates both).
CREATE FUNCTION daily_totals_truncate() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
  IF TG_TABLE_NAME = 'policies' THEN
    TRUNCATE daily_session_totals, daily_domain_totals, daily_failure_totals;
  ELSE
    TRUNCATE daily_failure_totals;
  END IF;
  RETURN NULL;
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

-- The rows stored before this migration.
SELECT refresh_daily_totals();

-- Same columns and rows as in 0002, read from the totals.
CREATE OR REPLACE VIEW daily_policy_stats AS
SELECT day, policy_domain, policy_type, organization_name, successful_sessions, failed_sessions, reports
FROM daily_session_totals;

CREATE OR REPLACE VIEW daily_domain_stats AS
SELECT day,
       policy_domain,
       organization_name,
       sum(counted_successful_sessions)::bigint AS successful_sessions,
       sum(counted_failed_sessions)::bigint AS failed_sessions,
       sum(counted_reports)::bigint AS reports
FROM daily_session_totals
GROUP BY day, policy_domain, organization_name;

-- The verdict of 0002, same signature, columns and wording, computed from the totals.
CREATE OR REPLACE FUNCTION enforce_readiness_for(
  window_days integer DEFAULT 14,
  max_failure_rate numeric DEFAULT 0.001,
  min_days integer DEFAULT 7,
  min_reporters integer DEFAULT 2,
  as_of date DEFAULT NULL
) RETURNS TABLE (
  policy_domain text,
  policy_mode text,
  days_with_reports integer,
  reporters integer,
  successful_sessions bigint,
  failed_sessions bigint,
  failure_rate numeric,
  top_result_type text,
  ready boolean,
  reason text
)
LANGUAGE plpgsql STABLE
-- The planner overestimates the joins of this query and would JIT-compile it: that takes longer than the
-- query (tens of milliseconds for a few thousand rows).
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
  until_day date := coalesce(as_of, (now() AT TIME ZONE 'UTC')::date);
  from_day date;
BEGIN
  IF window_days IS NULL OR window_days < 1 OR window_days > 3660 THEN
    RAISE EXCEPTION 'window_days must be a number of days from 1 to 3660, not %', window_days
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_failure_rate IS NULL OR max_failure_rate < 0 OR max_failure_rate > 1 THEN
    RAISE EXCEPTION 'max_failure_rate must be a fraction from 0 to 1 (0.001 = 0.1%%), not %', max_failure_rate
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF min_days IS NULL OR min_days < 0 OR min_days > window_days THEN
    RAISE EXCEPTION 'min_days must be from 0 to window_days (%), not %', window_days, min_days
      USING ERRCODE = 'invalid_parameter_value', HINT = 'a domain can have reports on at most window_days days';
  END IF;
  IF min_reporters IS NULL OR min_reporters < 0 THEN
    RAISE EXCEPTION 'min_reporters must be 0 or more, not %', min_reporters USING ERRCODE = 'invalid_parameter_value';
  END IF;
  from_day := until_day - window_days;

  RETURN QUERY
  WITH counted AS (
    -- Sessions of the counted policy type (see report_domain_sessions): each session once across policy types.
    SELECT d.day, d.policy_domain, d.counted_successful_sessions, d.counted_failed_sessions, d.organizations
    FROM daily_domain_totals d
    WHERE d.day >= from_day AND d.day < until_day AND d.policy_domain IS NOT NULL AND d.counted_reports > 0
  ), reporters AS (
    SELECT o.policy_domain,
           count(*)::integer AS reporters,
           string_agg(o.organization_name, ', ' ORDER BY o.organization_name) AS reporter_names
    FROM (SELECT DISTINCT c.policy_domain, u.organization_name
          -- A domain's reporters are mostly the same every day: unnest each distinct list once.
          FROM (SELECT DISTINCT c.policy_domain, c.organizations FROM counted c) c
          CROSS JOIN LATERAL unnest(c.organizations) AS u(organization_name)) o
    GROUP BY o.policy_domain
  ), totals AS (
    SELECT s.policy_domain, s.days, rp.reporters, rp.reporter_names, s.ok, s.failed
    FROM (SELECT c.policy_domain,
                 count(*)::integer AS days,
                 sum(c.counted_successful_sessions)::bigint AS ok,
                 sum(c.counted_failed_sessions)::bigint AS failed
          FROM counted c
          GROUP BY c.policy_domain) s
    JOIN reporters rp ON rp.policy_domain = s.policy_domain
  ), top_failure AS (
    SELECT DISTINCT ON (f.policy_domain) f.policy_domain, f.result_type
    FROM daily_failure_totals f
    WHERE f.day >= from_day AND f.day < until_day AND f.policy_domain IS NOT NULL
    GROUP BY f.policy_domain, f.result_type
    ORDER BY f.policy_domain, sum(f.failed_sessions) DESC, f.result_type
  ), latest_mode AS (
    -- RFC 8461 3.2: the policy file's "mode" line, which reporters copy into policy-string (RFC 8460 4.4).
    -- Taken from every sts policy, counted or not, of the latest report in the window.
    SELECT DISTINCT ON (d.policy_domain) d.policy_domain, d.sts_mode AS mode
    FROM daily_domain_totals d
    WHERE d.day >= from_day AND d.day < until_day AND d.sts_mode_end_at IS NOT NULL
    ORDER BY d.policy_domain, d.sts_mode_end_at DESC, d.sts_mode_report_id DESC
  ), judged AS (
    SELECT t.*, lm.mode, tf.result_type AS top_type,
           CASE WHEN t.ok + t.failed > 0 THEN t.failed::numeric / (t.ok + t.failed) END AS rate,
           t.days >= min_days AS enough_days,
           t.reporters >= min_reporters AS enough_reporters,
           t.ok + t.failed > 0 AS any_sessions,
           t.failed::numeric <= max_failure_rate * (t.ok + t.failed) AS low_failures
    FROM totals t
    LEFT JOIN latest_mode lm ON lm.policy_domain = t.policy_domain
    LEFT JOIN top_failure tf ON tf.policy_domain = t.policy_domain
  ), worded AS (
    SELECT j.*,
           j.enough_days AND j.enough_reporters AND j.any_sessions AND j.low_failures AS is_ready,
           format('%s of %s sessions', j.failed, j.ok + j.failed) AS of_sessions,
           trim_scale(round(j.rate * 100, 3)) || '%' AS rate_pct,
           trim_scale(round(max_failure_rate * 100, 3)) || '%' AS max_pct
    FROM judged j
  ), reasoned AS (
    SELECT w.*,
           CASE WHEN w.is_ready THEN
             format('reports on %s of the last %s days from %s reporters; failure rate %s (%s) is within the %s maximum',
                    w.days, window_days, w.reporters, w.rate_pct, w.of_sessions, w.max_pct)
           ELSE concat_ws('; ',
             CASE WHEN NOT w.enough_days THEN
               format('reports on only %s of the last %s days, fewer than the %s required', w.days, window_days, min_days) END,
             CASE WHEN NOT w.enough_reporters THEN
               format('reports from only %s reporter%s (%s), fewer than the %s required',
                      w.reporters, CASE WHEN w.reporters = 1 THEN '' ELSE 's' END, w.reporter_names, min_reporters) END,
             CASE WHEN NOT w.any_sessions THEN 'the reports count no sessions at all' END,
             CASE WHEN w.any_sessions AND NOT w.low_failures THEN
               format('failure rate %s (%s) is above the %s maximum%s', w.rate_pct, w.of_sessions, w.max_pct,
                      CASE WHEN w.top_type IS NOT NULL THEN format('; most failed sessions: %s', w.top_type) ELSE '' END) END)
           END AS clauses
    FROM worded w
  )
  SELECT r.policy_domain,
         r.mode,
         r.days,
         r.reporters,
         r.ok,
         r.failed,
         round(r.rate, 6),
         r.top_type,
         r.is_ready,
         upper(left(r.clauses, 1)) || substr(r.clauses, 2) || '.'
           || CASE r.mode
                WHEN 'enforce' THEN ' The MTA-STS policy is already in enforce mode.'
                WHEN 'none' THEN ' The MTA-STS policy is in mode none: nothing is being tested.'
                ELSE ''
              END
           || CASE WHEN r.mode IS NULL THEN ' No sts policy was reported: the reports show no MTA-STS policy to enforce.' ELSE '' END
  FROM reasoned r
  ORDER BY r.policy_domain;
END
$fn$;

-- Down Migration
-- Back to the definitions of 0002, which read the core tables.
CREATE OR REPLACE VIEW daily_policy_stats AS
SELECT report_day(r.start_at, r.end_at) AS day,
       p.policy_domain,
       p.policy_type,
       r.organization_name,
       sum(p.total_successful_session_count)::bigint AS successful_sessions,
       sum(p.total_failure_session_count)::bigint AS failed_sessions,
       count(DISTINCT r.id)::bigint AS reports
FROM reports r
JOIN policies p ON p.report_id = r.id
GROUP BY 1, 2, 3, 4;

CREATE OR REPLACE VIEW daily_domain_stats AS
SELECT day,
       policy_domain,
       organization_name,
       sum(successful_sessions)::bigint AS successful_sessions,
       sum(failed_sessions)::bigint AS failed_sessions,
       count(*)::bigint AS reports
FROM report_domain_sessions
GROUP BY day, policy_domain, organization_name;

CREATE OR REPLACE FUNCTION enforce_readiness_for(
  window_days integer DEFAULT 14,
  max_failure_rate numeric DEFAULT 0.001,
  min_days integer DEFAULT 7,
  min_reporters integer DEFAULT 2,
  as_of date DEFAULT NULL
) RETURNS TABLE (
  policy_domain text,
  policy_mode text,
  days_with_reports integer,
  reporters integer,
  successful_sessions bigint,
  failed_sessions bigint,
  failure_rate numeric,
  top_result_type text,
  ready boolean,
  reason text
)
LANGUAGE plpgsql STABLE
AS $fn$
#variable_conflict use_column
DECLARE
  until_day date := coalesce(as_of, (now() AT TIME ZONE 'UTC')::date);
  from_day date;
BEGIN
  IF window_days IS NULL OR window_days < 1 OR window_days > 3660 THEN
    RAISE EXCEPTION 'window_days must be a number of days from 1 to 3660, not %', window_days
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_failure_rate IS NULL OR max_failure_rate < 0 OR max_failure_rate > 1 THEN
    RAISE EXCEPTION 'max_failure_rate must be a fraction from 0 to 1 (0.001 = 0.1%%), not %', max_failure_rate
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF min_days IS NULL OR min_days < 0 OR min_days > window_days THEN
    RAISE EXCEPTION 'min_days must be from 0 to window_days (%), not %', window_days, min_days
      USING ERRCODE = 'invalid_parameter_value', HINT = 'a domain can have reports on at most window_days days';
  END IF;
  IF min_reporters IS NULL OR min_reporters < 0 THEN
    RAISE EXCEPTION 'min_reporters must be 0 or more, not %', min_reporters USING ERRCODE = 'invalid_parameter_value';
  END IF;
  from_day := until_day - window_days;

  RETURN QUERY
  WITH counted AS (
    SELECT s.day, s.organization_name, s.report_id, s.policy_domain, s.successful_sessions, s.failed_sessions, s.policy_ids
    FROM report_domain_sessions s
    WHERE s.day >= from_day AND s.day < until_day AND s.policy_domain IS NOT NULL
  ), totals AS (
    SELECT c.policy_domain,
           count(DISTINCT c.day)::integer AS days,
           count(DISTINCT c.organization_name)::integer AS reporters,
           string_agg(DISTINCT c.organization_name, ', ') AS reporter_names,
           sum(c.successful_sessions)::bigint AS ok,
           sum(c.failed_sessions)::bigint AS failed
    FROM counted c
    GROUP BY c.policy_domain
  ), top_failure AS (
    SELECT DISTINCT ON (c.policy_domain) c.policy_domain, d.result_type
    FROM counted c
    CROSS JOIN LATERAL unnest(c.policy_ids) AS counted_policy(policy_id)
    JOIN failure_details d ON d.policy_id = counted_policy.policy_id
    GROUP BY c.policy_domain, d.result_type
    ORDER BY c.policy_domain, sum(d.failed_session_count) DESC, d.result_type
  ), latest_mode AS (
    -- RFC 8461 3.2: the policy file's "mode" line, which reporters copy into policy-string (RFC 8460 4.4).
    -- Taken from every sts policy, counted or not, of the latest report in the window.
    SELECT DISTINCT ON (p.policy_domain) p.policy_domain, m.mode
    FROM reports r
    JOIN policies p ON p.report_id = r.id
    CROSS JOIN LATERAL (
      SELECT lower(substring(line FROM '^\s*mode\s*:\s*(\S+)')) AS mode
      FROM unnest(p.policy_string) AS line
      WHERE line ~* '^\s*mode\s*:'
      LIMIT 1
    ) m
    WHERE report_day(r.start_at, r.end_at) >= from_day AND report_day(r.start_at, r.end_at) < until_day
      AND p.policy_type = 'sts'
    ORDER BY p.policy_domain, r.end_at DESC, r.id DESC
  ), judged AS (
    SELECT t.*, lm.mode, tf.result_type AS top_type,
           CASE WHEN t.ok + t.failed > 0 THEN t.failed::numeric / (t.ok + t.failed) END AS rate,
           t.days >= min_days AS enough_days,
           t.reporters >= min_reporters AS enough_reporters,
           t.ok + t.failed > 0 AS any_sessions,
           t.failed::numeric <= max_failure_rate * (t.ok + t.failed) AS low_failures
    FROM totals t
    LEFT JOIN latest_mode lm ON lm.policy_domain = t.policy_domain
    LEFT JOIN top_failure tf ON tf.policy_domain = t.policy_domain
  ), worded AS (
    SELECT j.*,
           j.enough_days AND j.enough_reporters AND j.any_sessions AND j.low_failures AS is_ready,
           format('%s of %s sessions', j.failed, j.ok + j.failed) AS of_sessions,
           trim_scale(round(j.rate * 100, 3)) || '%' AS rate_pct,
           trim_scale(round(max_failure_rate * 100, 3)) || '%' AS max_pct
    FROM judged j
  ), reasoned AS (
    SELECT w.*,
           CASE WHEN w.is_ready THEN
             format('reports on %s of the last %s days from %s reporters; failure rate %s (%s) is within the %s maximum',
                    w.days, window_days, w.reporters, w.rate_pct, w.of_sessions, w.max_pct)
           ELSE concat_ws('; ',
             CASE WHEN NOT w.enough_days THEN
               format('reports on only %s of the last %s days, fewer than the %s required', w.days, window_days, min_days) END,
             CASE WHEN NOT w.enough_reporters THEN
               format('reports from only %s reporter%s (%s), fewer than the %s required',
                      w.reporters, CASE WHEN w.reporters = 1 THEN '' ELSE 's' END, w.reporter_names, min_reporters) END,
             CASE WHEN NOT w.any_sessions THEN 'the reports count no sessions at all' END,
             CASE WHEN w.any_sessions AND NOT w.low_failures THEN
               format('failure rate %s (%s) is above the %s maximum%s', w.rate_pct, w.of_sessions, w.max_pct,
                      CASE WHEN w.top_type IS NOT NULL THEN format('; most failed sessions: %s', w.top_type) ELSE '' END) END)
           END AS clauses
    FROM worded w
  )
  SELECT r.policy_domain,
         r.mode,
         r.days,
         r.reporters,
         r.ok,
         r.failed,
         round(r.rate, 6),
         r.top_type,
         r.is_ready,
         upper(left(r.clauses, 1)) || substr(r.clauses, 2) || '.'
           || CASE r.mode
                WHEN 'enforce' THEN ' The MTA-STS policy is already in enforce mode.'
                WHEN 'none' THEN ' The MTA-STS policy is in mode none: nothing is being tested.'
                ELSE ''
              END
           || CASE WHEN r.mode IS NULL THEN ' No sts policy was reported: the reports show no MTA-STS policy to enforce.' ELSE '' END
  FROM reasoned r
  ORDER BY r.policy_domain;
END
$fn$;

DROP TRIGGER failure_details_truncate_daily_totals ON failure_details;
DROP TRIGGER policies_truncate_daily_totals ON policies;
DROP TRIGGER failure_details_delete_daily_totals ON failure_details;
DROP TRIGGER failure_details_update_daily_totals ON failure_details;
DROP TRIGGER policies_delete_daily_totals ON policies;
DROP TRIGGER policies_update_daily_totals ON policies;
DROP TRIGGER reports_delete_daily_totals ON reports;
DROP TRIGGER reports_update_daily_totals ON reports;
DROP TRIGGER failure_details_insert_daily_totals ON failure_details;
DROP TRIGGER policies_insert_daily_totals ON policies;
DROP FUNCTION daily_totals_truncate();
DROP FUNCTION daily_totals_refresh_changed();
DROP FUNCTION daily_totals_add_failure_details();
DROP FUNCTION daily_totals_add_policies();
DROP FUNCTION refresh_daily_totals(date[]);
DROP FUNCTION add_to_daily_totals(bigint[], xid, cid);
DROP TABLE daily_failure_totals;
DROP TABLE daily_domain_totals;
DROP TABLE daily_session_totals;
DROP FUNCTION policy_type_precedence(text);
