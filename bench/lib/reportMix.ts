/**
 * A realistic mix of report mails: policies and failure details drawn from the real samples in
 * test/fixtures/real, 1-3 policies and 0-10 failure details per report, one report in 50 large (500
 * details), each with a unique (organization-name, report-id) so nothing dedupes. Deterministic per seed.
 */
import { gzipSync } from 'node:zlib';
import { buildReportMail } from '../../test/helpers/reportMail.js';
import { createRandom } from '../../test/helpers/random.js';

export { createRandom };
import { realFixtureNames, realJson } from '../../test/helpers/fixtures.js';
import { normaliseReport } from '../../src/validate/normaliseReport.js';
import { validateReport } from '../../src/validate/validateReport.js';

type Json = Record<string, unknown>;

interface Pools {
  policies: Json[];
  details: Json[];
}

const ORGS = ['Google Inc.', 'Microsoft Corporation', 'Mail.Ru', 'Yahoo', 'comcast.net'];
const SUBMITTERS = ['google.com', 'microsoft.com', 'mail.ru', 'yahoo.com', 'comcast.net'];
const LARGE_EVERY = 50;
const LARGE_DETAILS = 500;

let pools: Pools | undefined;

/** Policies and failure details of the real samples that validate without any fix-up. */
function loadPools(): Pools {
  if (pools) return pools;
  const out: Pools = { policies: [], details: [] };
  for (const name of realFixtureNames((n) => n.endsWith('.json') || n.endsWith('.json.gz'))) {
    let report: Json;
    try {
      report = realJson(name) as Json;
    } catch {
      continue;
    }
    for (const entry of (Array.isArray(report.policies) ? report.policies : []) as Json[]) {
      if (!entry.policy || typeof entry.policy !== 'object') continue;
      const details = (Array.isArray(entry['failure-details']) ? entry['failure-details'] : []) as Json[];
      const candidate = {
        'organization-name': 'probe',
        'date-range': { 'start-datetime': '2024-01-01T00:00:00Z', 'end-datetime': '2024-01-01T23:59:59Z' },
        'contact-info': 'probe@example.com',
        'report-id': 'probe',
        policies: [
          {
            policy: entry.policy,
            summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 0 },
            'failure-details': [] as Json[],
          },
        ],
      };
      if (!cleanlyValid(candidate)) continue;
      out.policies.push(entry.policy as Json);
      for (const d of details) {
        const withDetail = structuredClone(candidate);
        withDetail.policies[0]!['failure-details'] = [d];
        withDetail.policies[0]!.summary['total-failure-session-count'] = d['failed-session-count'] as number;
        if (cleanlyValid(withDetail)) out.details.push(d);
      }
    }
  }
  if (out.policies.length === 0 || out.details.length === 0) throw new Error('no usable policies in test/fixtures/real');
  pools = out;
  return out;
}

function cleanlyValid(report: unknown): boolean {
  try {
    const n = normaliseReport(report);
    validateReport(n.report);
    return n.fixups.length === 0;
  } catch {
    return false;
  }
}

export interface MixedReport {
  mail: Buffer;
  /** The report JSON, gzipped: what an RFC 8460 5.4 HTTPS POST carries. */
  gzipped: Buffer;
  organizationName: string;
  reportId: string;
  details: number;
}

/** One report object of the mix; `tag` makes the identity unique (run id + index). */
export function buildMixedReport(
  rand: () => number,
  tag: string,
  index: number,
  forceDetails?: number,
): { report: Json; org: string; submitter: string; details: number } {
  const p = loadPools();
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const who = Math.floor(rand() * ORGS.length);
  const large = forceDetails === undefined && index % LARGE_EVERY === LARGE_EVERY - 1;
  const policyCount = 1 + Math.floor(rand() * 3);
  let totalDetails = 0;
  const policies = [];
  for (let i = 0; i < policyCount; i++) {
    const wanted =
      forceDetails !== undefined
        ? i === 0
          ? forceDetails
          : 0
        : large && i === 0
          ? LARGE_DETAILS
          : Math.floor((rand() * 11) / policyCount);
    const details = Array.from({ length: wanted }, (_, k) => ({ ...pick(p.details), 'failed-session-count': 1 + ((k * 7) % 13) }));
    totalDetails += details.length;
    const failed = details.reduce((s, d) => s + (d['failed-session-count'] as number), 0);
    policies.push({
      policy: { ...pick(p.policies), 'policy-domain': `d${Math.floor(rand() * 1000)}.example.net` },
      summary: { 'total-successful-session-count': Math.floor(rand() * 5000), 'total-failure-session-count': failed },
      'failure-details': details,
    });
  }
  const day = new Date(Date.UTC(2024, 0, 1) + Math.floor(rand() * 365) * 86_400_000).toISOString().slice(0, 10);
  const org = `${ORGS[who]} bench ${tag}`;
  return {
    org,
    submitter: SUBMITTERS[who]!,
    details: totalDetails,
    report: {
      'organization-name': org,
      'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
      'contact-info': `smtp-tls-reporting@${SUBMITTERS[who]}`,
      'report-id': `${day}_${tag}_${index}@${SUBMITTERS[who]}`,
      policies,
    },
  };
}

/** `count` report mails; `tag` must differ between runs against one database. */
export function buildReportMix(count: number, tag: string, seed = 8460): MixedReport[] {
  const rand = createRandom(seed);
  const out: MixedReport[] = [];
  for (let i = 0; i < count; i++) {
    const r = buildMixedReport(rand, tag, i);
    const policies = r.report.policies as Array<{ policy: Json }>;
    out.push({
      mail: buildReportMail({
        report: r.report,
        submitter: r.submitter,
        policyDomain: policies[0]!.policy['policy-domain'] as string,
        reportId: r.report['report-id'] as string,
      }),
      gzipped: gzipSync(JSON.stringify(r.report)),
      organizationName: r.org,
      reportId: r.report['report-id'] as string,
      details: r.details,
    });
  }
  return out;
}
