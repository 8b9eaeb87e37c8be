import type { Pool } from '../../src/db/pool.js';

/** The policies of a stored report as [policy-type, policy-domain, successful, failed, failure-detail rows]. */
export async function storedPolicies(pool: Pool, reportId: number): Promise<Array<[string, string | null, number, number, number]>> {
  const res = await pool.query(
    `SELECT p.policy_type, p.policy_domain, p.total_successful_session_count AS ok,
            p.total_failure_session_count AS failed,
            (SELECT count(*)::int FROM failure_details d WHERE d.policy_id = p.id) AS details
     FROM policies p WHERE p.report_id = $1 ORDER BY p.policy_index`,
    [reportId],
  );
  return res.rows.map((r) => [r.policy_type, r.policy_domain, r.ok, r.failed, r.details]);
}
