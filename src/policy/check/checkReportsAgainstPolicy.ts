/**
 * Reports versus the published policy for one domain: the function `tlsrpt check` uses and the readiness
 * verdict can call. `published` is the policy senders see (fetched, or the hosted file).
 */
import type { Pool } from '../../db/pool.js';
import { comparePolicyWithReports, type PolicyComparison } from './comparePolicyWithReports.js';
import { loadReportedPolicies } from './loadReportedPolicies.js';
import type { StsPolicy } from '../syntax/parseStsPolicy.js';

export const DEFAULT_REPORT_DAYS = 14;

export async function checkReportsAgainstPolicy(
  pool: Pool,
  domain: string,
  published: StsPolicy,
  options: { days?: number; now?: Date } = {},
): Promise<PolicyComparison> {
  const days = options.days ?? DEFAULT_REPORT_DAYS;
  const since = new Date((options.now ?? new Date()).getTime() - days * 86_400_000);
  const { policies, failures } = await loadReportedPolicies(pool, domain, since);
  return comparePolicyWithReports(domain, published, policies, failures, days);
}
