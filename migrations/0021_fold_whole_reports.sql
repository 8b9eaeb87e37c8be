-- Up Migration

-- add_to_daily_totals() loses its command_xmin and command_cmin arguments (definitions/20_daily_totals.sql):
-- since 0012 no caller gives them, as every report reaches the fold whole, once, and the part that
-- subtracted what a report's group counted before a later INSERT only cost CPU. A function's arguments can
-- only change by dropping it; the file is applied again after this (its row is deleted), and recreates it.
DROP FUNCTION add_to_daily_totals(bigint[], xid, cid);
DELETE FROM schema_definitions WHERE name = '20_daily_totals.sql';

-- Down Migration

-- The function as 20_daily_totals.sql defined it before this migration, with its three arguments: the
-- down migrations before this one call it (0012 puts back the write-path triggers that give them), and the
-- earlier version's "tlsrpt migrate" applies its own 20_daily_totals.sql again (its row is deleted here).
DROP FUNCTION add_to_daily_totals(bigint[]);
CREATE FUNCTION add_to_daily_totals(changed_report_ids bigint[], command_xmin xid DEFAULT NULL, command_cmin cid DEFAULT NULL)
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
DELETE FROM schema_definitions WHERE name = '20_daily_totals.sql';
