/**
 * `tlsrpt check <domain>`: DNS and HTTPS at the edges (lookupDomainRecords, fetchPolicy), decisions in
 * evaluateDomain, then reports versus the published policy when a database is given.
 */
import type { Resolver } from 'node:dns/promises';
import type { Pool } from '../../db/pool.js';
import { errorMessage, UsageError } from '../../errors.js';
import type { CheckFinding } from './checkFinding.js';
import { checkReportsAgainstPolicy } from './checkReportsAgainstPolicy.js';
import type { PolicyComparison } from './comparePolicyWithReports.js';
import { evaluateDomain } from './evaluateDomain.js';
import { fetchPolicy, policyUrl, type FetchPolicyOptions } from './fetchPolicy.js';
import { hostNameProblem, normaliseHostName } from '../syntax/hostName.js';
import { lookupDomainRecords } from './lookupDomainRecords.js';
import type { StsPolicy } from '../syntax/parseStsPolicy.js';
import type { OurAddresses } from './ruaTargets.js';

export interface CheckDomainOptions {
  resolver: Resolver;
  fetch?: Omit<FetchPolicyOptions, 'resolver'>;
  ours: OurAddresses;
  /** How messages name the resolver (describeResolver(DNS_SERVERS)). */
  resolverName?: string;
  /** Compare reports of the last `days` days with the published policy; omit to skip. */
  reports?: { pool: Pool; days: number } | null;
  now?: Date;
}

export interface DomainCheck {
  domain: string;
  findings: CheckFinding[];
  policy: StsPolicy | null;
  comparison: PolicyComparison | null;
}

export async function checkDomain(domainInput: string, options: CheckDomainOptions): Promise<DomainCheck> {
  const domain = normaliseHostName(domainInput);
  const problem = hostNameProblem(domain);
  // The domain is the command's argument: a bad one is a usage error (exit status 2).
  if (problem) throw new UsageError('argument-invalid', `"${domainInput}" is not a domain name: ${problem}`);
  const now = options.now ?? new Date();
  const [records, policyFetch] = await Promise.all([
    lookupDomainRecords(options.resolver, domain),
    fetchPolicy(policyUrl(domain), { ...options.fetch, resolver: options.resolver }),
  ]);
  const evaluation = evaluateDomain({ domain, ...records, policyFetch, ours: options.ours, now, resolver: options.resolverName });
  const findings = [...evaluation.findings];

  let comparison: PolicyComparison | null = null;
  if (options.reports) {
    if (!evaluation.policy) {
      findings.push({
        check: 'reports-policy',
        status: 'warn',
        summary: 'reports not compared: there is no valid published policy to compare them with',
        fix: 'Fix the policy findings above, then run the check again.',
      });
    } else {
      try {
        comparison = await checkReportsAgainstPolicy(options.reports.pool, domain, evaluation.policy, { days: options.reports.days, now });
        findings.push(...comparison.findings);
      } catch (err) {
        findings.push({
          check: 'reports-policy',
          status: 'warn',
          summary: `reports not compared: cannot read them from the database (${errorMessage(err)})`,
          fix: 'Check DATABASE_URL and that the database is migrated ("tlsrpt migrate"), or pass --no-reports.',
        });
      }
    }
  }
  return { domain, findings, policy: evaluation.policy, comparison };
}
