-- The views of README "Querying the reports", a public interface: keep their names and columns; a change may
-- add columns at the end, never rename or drop one (CREATE OR REPLACE VIEW refuses that anyway).
-- report_day() (migrations/0002) puts each report on one UTC day; the counted policy type per report and
-- domain follows policy_type_precedence() (10_rules.sql, src/rules/countedSessions.ts).

-- Per report and policy domain, the sessions that count in totals across policy types: the policy type with
-- the most sessions; on a tie sts, then tlsa, then no-policy-found, then any other type (quirk 5).
-- The tie order is policy_type_precedence()'s, written out: a view that called the function would keep
-- migration 0004's down section from dropping it. test/rules/countedSessions.test.ts runs one table of cases
-- through this view and through the totals that function ranks, so the two cannot drift apart unseen.
-- day and organization_name are DISTINCT ON keys (both follow from report_id) so that a filter on them is
-- pushed down to the reports_day_idx scan instead of being applied after the whole table is read.
CREATE OR REPLACE VIEW report_domain_sessions AS
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
-- "summary"), from the per-day totals (migrations/0004). A domain reported under both tlsa and sts shows
-- both rows here: do not add them up across policy types; daily_domain_stats does that without double
-- counting.
CREATE OR REPLACE VIEW daily_policy_stats AS
SELECT day, policy_domain, policy_type, organization_name, successful_sessions, failed_sessions, reports
FROM daily_session_totals;

-- Traffic per day, policy domain and reporter, each session counted once across policy types (the counted_*
-- columns of the totals hold the sessions of the counted type only).
CREATE OR REPLACE VIEW daily_domain_stats AS
SELECT day,
       policy_domain,
       organization_name,
       sum(counted_successful_sessions)::bigint AS successful_sessions,
       sum(counted_failed_sessions)::bigint AS failed_sessions,
       sum(counted_reports)::bigint AS reports
FROM daily_session_totals
GROUP BY day, policy_domain, organization_name;

-- Failed sessions per day, domain, reporter and failure (RFC 8460 4.3 "failure-details"), from the counted
-- policy type only (see report_domain_sessions). Totals here may differ from failed_sessions of the daily
-- views: some senders' total-failure-session-count disagrees with their failure details (quirk 4).
CREATE OR REPLACE VIEW failure_stats AS
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
