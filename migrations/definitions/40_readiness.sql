-- Is each policy domain ready to move its MTA-STS policy from "testing" to "enforce" (RFC 8461 5)? README
-- "Readiness to enforce". This is the verdict's one definition: change its rule or its wording here.
-- Over the window_days whole UTC days before as_of (today, UTC, by default), a domain is ready when
--   days_with_reports >= min_days         it was observed long enough,
--   reporters >= min_reporters            by more than one sending organisation's view of the network,
--   at least one session was reported,
--   failed / (successful + failed) <= max_failure_rate, and
--   the reports quote an sts policy with a mode (sts_mode(), 10_rules.sql): without one there is no
--   MTA-STS policy to enforce (a DANE-only domain, say),
-- counting sessions once across policy types (daily_domain_totals, migrations/0004). Defaults: 14 days (the
-- usual two weeks in testing mode), 0.1% failures, 7 days with reports, 2 reporters. The reason column says
-- why, in words; its failure rate is the failure_rate column (session_failure_rate(), one rounding).
-- It does not compare the reports with the policy the domain publishes: `tlsrpt check DOMAIN` does that.
-- A reporter is authenticated when one of its reports for the domain in the window was (reports.authenticated:
-- a DKIM signature aligned with the From domain that passed, or a trusted HTTPS client; README "Authentication
-- (DKIM)"); the reason always ends by saying how many were. With authenticated_only, the reporter minimum
-- counts authenticated reporters only (RFC 8460 3 lets receivers ignore unsigned reports): a forged report
-- then cannot make up the second reporter. Sessions are still counted from every report.
CREATE OR REPLACE FUNCTION enforce_readiness_for(
  window_days integer DEFAULT 14,
  max_failure_rate numeric DEFAULT 0.001,
  min_days integer DEFAULT 7,
  min_reporters integer DEFAULT 2,
  as_of date DEFAULT NULL,
  authenticated_only boolean DEFAULT false
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
  reason text,
  authenticated_reporters integer
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
  IF authenticated_only IS NULL THEN
    RAISE EXCEPTION 'authenticated_only must be true or false, not NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  from_day := until_day - window_days;

  RETURN QUERY
  WITH counted AS (
    -- Sessions of the counted policy type (src/rules/countedSessions.ts): each session once across policy types.
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
  ), authenticated AS (
    -- The reporters of each domain with an authenticated report in the window (index reports_authenticated_day_idx).
    SELECT p.policy_domain,
           count(DISTINCT r.organization_name)::integer AS reporters,
           string_agg(DISTINCT r.organization_name, ', ' ORDER BY r.organization_name) AS reporter_names
    FROM reports r
    JOIN policies p ON p.report_id = r.id
    WHERE r.authenticated AND report_day(r.start_at, r.end_at) >= from_day AND report_day(r.start_at, r.end_at) < until_day
      AND p.policy_domain IS NOT NULL
    GROUP BY p.policy_domain
  ), totals AS (
    SELECT s.policy_domain, s.days, rp.reporters, rp.reporter_names, s.ok, s.failed,
           coalesce(au.reporters, 0) AS authed, au.reporter_names AS authed_names
    FROM (SELECT c.policy_domain,
                 count(*)::integer AS days,
                 sum(c.counted_successful_sessions)::bigint AS ok,
                 sum(c.counted_failed_sessions)::bigint AS failed
          FROM counted c
          GROUP BY c.policy_domain) s
    JOIN reporters rp ON rp.policy_domain = s.policy_domain
    LEFT JOIN authenticated au ON au.policy_domain = s.policy_domain
  ), top_failure AS (
    SELECT DISTINCT ON (f.policy_domain) f.policy_domain, f.result_type
    FROM daily_failure_totals f
    WHERE f.day >= from_day AND f.day < until_day AND f.policy_domain IS NOT NULL
    GROUP BY f.policy_domain, f.result_type
    ORDER BY f.policy_domain, sum(f.failed_sessions) DESC, f.result_type
  ), latest_mode AS (
    -- The mode of the latest sts policy in the window that has one (sts_mode()), counted or not.
    SELECT DISTINCT ON (d.policy_domain) d.policy_domain, d.sts_mode AS mode
    FROM daily_domain_totals d
    WHERE d.day >= from_day AND d.day < until_day AND d.sts_mode_end_at IS NOT NULL
    ORDER BY d.policy_domain, d.sts_mode_end_at DESC, d.sts_mode_report_id DESC
  ), judged AS (
    SELECT t.*, lm.mode, tf.result_type AS top_type,
           session_failure_rate(t.ok, t.failed) AS rate,
           t.days >= min_days AS enough_days,
           CASE WHEN authenticated_only THEN t.authed ELSE t.reporters END >= min_reporters AS enough_reporters,
           t.ok + t.failed > 0 AS any_sessions,
           t.failed::numeric <= max_failure_rate * (t.ok + t.failed) AS low_failures,
           lm.mode IS NOT NULL AS sts_reported
    FROM totals t
    LEFT JOIN latest_mode lm ON lm.policy_domain = t.policy_domain
    LEFT JOIN top_failure tf ON tf.policy_domain = t.policy_domain
  ), worded AS (
    SELECT j.*,
           j.enough_days AND j.enough_reporters AND j.any_sessions AND j.low_failures AND j.sts_reported AS is_ready,
           format('%s of %s', j.failed, count_noun(j.ok + j.failed, 'session')) AS of_sessions,
           percent_text(j.rate) AS rate_pct,
           percent_text(round(max_failure_rate, 5)) AS max_pct,
           count_noun(window_days, 'day') AS last_days
    FROM judged j
  ), reasoned AS (
    SELECT w.*,
           CASE WHEN w.is_ready THEN
             format('reports on %s of the last %s from %s; failure rate %s (%s) is within the %s maximum',
                    w.days, w.last_days, count_noun(w.reporters, 'reporter'), w.rate_pct, w.of_sessions, w.max_pct)
           ELSE concat_ws('; ',
             CASE WHEN NOT w.sts_reported THEN
               'no MTA-STS policy reported: no report quotes an sts policy with a mode, so there is no MTA-STS policy to enforce' END,
             CASE WHEN NOT w.enough_days THEN
               format('reports on only %s of the last %s, fewer than the %s required', w.days, w.last_days, min_days) END,
             CASE WHEN NOT w.enough_reporters AND NOT authenticated_only THEN
               format('reports from only %s (%s), fewer than the %s required',
                      count_noun(w.reporters, 'reporter'), w.reporter_names, min_reporters) END,
             CASE WHEN NOT w.enough_reporters AND authenticated_only THEN
               format('authenticated reports from only %s%s, fewer than the %s required',
                      count_noun(w.authed, 'reporter'), CASE WHEN w.authed > 0 THEN format(' (%s)', w.authed_names) ELSE '' END,
                      min_reporters) END,
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
         r.rate,
         r.top_type,
         r.is_ready,
         upper(left(r.clauses, 1)) || substr(r.clauses, 2) || '.'
           || CASE r.mode
                WHEN 'enforce' THEN ' The MTA-STS policy is already in enforce mode.'
                WHEN 'none' THEN ' The MTA-STS policy is in mode none: nothing is being tested.'
                ELSE ''
              END
           || format(' %s of %s authenticated.', r.authed, count_noun(r.reporters, 'reporter')),
         r.authed
  FROM reasoned r
  ORDER BY r.policy_domain;
END
$fn$;

-- The verdict with the default thresholds over the last 14 days; call enforce_readiness_for(...) to change them.
CREATE OR REPLACE VIEW enforce_readiness AS
SELECT * FROM enforce_readiness_for();
