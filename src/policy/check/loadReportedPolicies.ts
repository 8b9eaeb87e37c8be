/**
 * Reads, for one policy domain and a time window, the sts policy strings reporters applied and the MX hosts
 * their failures name (tables policies and failure_details, migrations/0001). Plain SQL, grouped in the
 * database so that a busy domain returns a handful of rows, not every report.
 */
import type { Pool } from '../../db/pool.js';
import type { ReportedFailureMx, ReportedPolicy } from './comparePolicyWithReports.js';

export interface ReportedPolicies {
  policies: ReportedPolicy[];
  failures: ReportedFailureMx[];
}

// A report belongs to the window when its date range ends inside it. Domains compare case-insensitively and
// without a trailing dot, as DNS names do.
const POLICIES_SQL = `
SELECT r.organization_name, p.policy_string,
       count(DISTINCT r.id)::int AS reports,
       min(r.start_at) AS first_seen, max(r.end_at) AS last_seen,
       sum(p.total_successful_session_count)::bigint AS successful,
       sum(p.total_failure_session_count)::bigint AS failed
FROM policies p
JOIN reports r ON r.id = p.report_id
WHERE p.policy_type = 'sts'
  AND rtrim(lower(p.policy_domain), '.') = $1
  AND r.end_at > $2
GROUP BY r.organization_name, p.policy_string
ORDER BY max(r.end_at) DESC, r.organization_name`;

const FAILURE_MX_SQL = `
SELECT rtrim(lower(f.receiving_mx_hostname), '.') AS hostname, r.organization_name,
       sum(f.failed_session_count)::bigint AS failed,
       array_agg(DISTINCT f.result_type ORDER BY f.result_type) AS result_types
FROM failure_details f
JOIN policies p ON p.id = f.policy_id
JOIN reports r ON r.id = f.report_id
WHERE rtrim(lower(p.policy_domain), '.') = $1
  AND r.end_at > $2
  AND f.receiving_mx_hostname IS NOT NULL AND f.receiving_mx_hostname <> ''
GROUP BY 1, 2
ORDER BY 1, 2`;

export async function loadReportedPolicies(pool: Pool, domain: string, since: Date): Promise<ReportedPolicies> {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const [policies, failures] = await Promise.all([
    pool.query<{
      organization_name: string;
      policy_string: string[];
      reports: number;
      first_seen: Date;
      last_seen: Date;
      successful: number;
      failed: number;
    }>(POLICIES_SQL, [d, since]),
    pool.query<{ hostname: string; organization_name: string; failed: number; result_types: string[] }>(FAILURE_MX_SQL, [d, since]),
  ]);
  return {
    policies: policies.rows.map((r) => ({
      organizationName: r.organization_name,
      policyString: r.policy_string,
      reports: r.reports,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      successfulSessions: Number(r.successful),
      failedSessions: Number(r.failed),
    })),
    failures: failures.rows.map((r) => ({
      hostname: r.hostname,
      organizationName: r.organization_name,
      failedSessions: Number(r.failed),
      resultTypes: r.result_types,
    })),
  };
}
