-- Up Migration

-- The views below are a public interface (README "Querying the reports"): keep their names and columns.
-- Later migrations may add columns at the end, never rename or drop.

-- The UTC day a report's numbers are attributed to: the day holding the middle of the report's first 24
-- hours. RFC 8460 4.4 lets the sender choose its date-range, and senders differ (quirk 13):
--   2024-03-01T00:00:00Z .. 2024-03-01T23:59:59Z  (Google, Microsoft)        -> 2024-03-01
--   2024-03-01T00:00:00Z .. 2024-03-02T00:00:00Z  (Stalwart, Mail.ru)        -> 2024-03-01, not two days
--   2024-02-29T23:00:00Z .. 2024-03-01T23:00:00Z  (a sender's local midnight)-> 2024-03-01
--   2020-01-01T00:00:00Z .. 2020-01-07T23:59:59Z  (a 7-day range)            -> 2020-01-01, the start day
-- A multi-day range is attributed whole to its first day rather than spread: the report does not say when
-- in the range its sessions happened, and spreading would turn session counts into fractions.
-- Arithmetic is on UTC timestamps (without zone), so the function is truly immutable and can be indexed.
CREATE FUNCTION report_day(start_at timestamptz, end_at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT ((start_at AT TIME ZONE 'UTC')
          + least(greatest((end_at AT TIME ZONE 'UTC') - (start_at AT TIME ZONE 'UTC'), interval '0'), interval '1 day') / 2
         )::date
$$;

-- Every view filters reports by day; the expression must match report_day(start_at, end_at) exactly.
CREATE INDEX reports_day_idx ON reports (report_day(start_at, end_at));

-- Per report and policy domain, the sessions that count in totals across policy types. A sender that
-- checks both DANE and MTA-STS for a domain reports the same sessions twice, once under "tlsa" and once
-- under "sts" (quirk 5; RFC 8460 4.3 has one "policies" entry per policy evaluated). Summing them would
-- double traffic and failures, so one policy type is counted per report and domain: the type with the most
-- sessions; on a tie sts, then tlsa, then no-policy-found, then any other type.
-- day and organization_name are DISTINCT ON keys (both follow from report_id) so that a filter on them is
-- pushed down to the reports_day_idx scan instead of being applied after the whole table is read.
CREATE VIEW report_domain_sessions AS
SELECT DISTINCT ON (day, organization_name, report_id, policy_domain)
       day, organization_name, report_id, policy_domain, policy_type,
       successful_sessions, failed_sessions, policy_ids
FROM (
  SELECT report_day(r.start_at, r.end_at) AS day,
         r.organization_name,
         r.id AS report_id,
         p.policy_domain,
         p.policy_type,
         sum(p.total_successful_session_count)::bigint AS successful_sessions,
         sum(p.total_failure_session_count)::bigint AS failed_sessions,
         array_agg(p.id ORDER BY p.id) AS policy_ids
  FROM reports r
  JOIN policies p ON p.report_id = r.id
  GROUP BY 1, 2, 3, 4, 5
) per_type
ORDER BY day, organization_name, report_id, policy_domain,
         successful_sessions + failed_sessions DESC,
         CASE policy_type WHEN 'sts' THEN 0 WHEN 'tlsa' THEN 1 WHEN 'no-policy-found' THEN 2 ELSE 3 END,
         policy_type;

-- Traffic per day, policy domain, policy type and reporter, as the reports state it (RFC 8460 4.4
-- "summary"). A domain reported under both tlsa and sts shows both rows here: do not add them up across
-- policy types; daily_domain_stats does that without double counting.
CREATE VIEW daily_policy_stats AS
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

-- Traffic per day, policy domain and reporter, each session counted once across policy types.
CREATE VIEW daily_domain_stats AS
SELECT day,
       policy_domain,
       organization_name,
       sum(successful_sessions)::bigint AS successful_sessions,
       sum(failed_sessions)::bigint AS failed_sessions,
       count(*)::bigint AS reports
FROM report_domain_sessions
GROUP BY day, policy_domain, organization_name;

-- Failed sessions per day, domain, reporter and failure (RFC 8460 4.3 "failure-details"), from the counted
-- policy type only (see report_domain_sessions). Totals here may differ from failed_sessions of the daily
-- views: some senders' total-failure-session-count disagrees with their failure details (quirk 4).
CREATE VIEW failure_stats AS
SELECT s.day,
       s.policy_domain,
       s.organization_name,
       d.result_type,
       d.receiving_mx_hostname,
       d.receiving_ip,
       d.sending_mta_ip,
       sum(d.failed_session_count)::bigint AS failed_sessions,
       d.additional_information,
       d.failure_reason_code
FROM report_domain_sessions s
CROSS JOIN LATERAL unnest(s.policy_ids) AS counted(policy_id)
JOIN failure_details d ON d.policy_id = counted.policy_id
GROUP BY s.day, s.policy_domain, s.organization_name, d.result_type, d.receiving_mx_hostname, d.receiving_ip,
         d.sending_mta_ip, d.additional_information, d.failure_reason_code;

-- Is each policy domain ready to move its MTA-STS policy from "testing" to "enforce" (RFC 8461 5)?
-- Over the window_days whole UTC days before as_of (today, UTC, by default), a domain is ready when
--   days_with_reports >= min_days         it was observed long enough,
--   reporters >= min_reporters            by more than one sending organisation's view of the network,
--   at least one session was reported, and
--   failed / (successful + failed) <= max_failure_rate,
-- counting sessions once across policy types. Defaults: 14 days (the usual two weeks in testing mode),
-- 0.1% failures, 7 days with reports, 2 reporters. The reason column says why, in words.
CREATE FUNCTION enforce_readiness_for(
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

-- The verdict with the default thresholds over the last 14 days; call enforce_readiness_for(...) to change them.
CREATE VIEW enforce_readiness AS
SELECT * FROM enforce_readiness_for();

-- Down Migration
DROP VIEW enforce_readiness;
DROP FUNCTION enforce_readiness_for(integer, numeric, integer, integer, date);
DROP VIEW failure_stats;
DROP VIEW daily_domain_stats;
DROP VIEW daily_policy_stats;
DROP VIEW report_domain_sessions;
DROP INDEX reports_day_idx;
DROP FUNCTION report_day(timestamptz, timestamptz);
