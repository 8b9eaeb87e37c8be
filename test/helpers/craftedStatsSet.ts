/**
 * A crafted multi-day, multi-reporter set of RFC 8460 reports for the stats views and commands, with dates
 * relative to a day `asOf` (day k = asOf minus k days). The expected numbers are worked out by hand in the
 * tests that use it; this file only says what each reporter sent:
 *
 *   ready.example    Google daily k=1..14 (1000 ok; k=3: 999 ok + 1 certificate-expired),
 *                    Microsoft k=1..10 (500 ok, range ending at the next midnight), plus two reports outside
 *                    the readiness window: Google k=0 (10 ok, 10 starttls-not-supported) and k=20 (5000 failed).
 *                    Policy mode "none" for k=12..14 and "testing" after (the latest mode wins).
 *   failing.example  Google k=1..14 (900 ok, 100 failed: 60 certificate-host-mismatch on mx1, 40
 *                    starttls-not-supported on mx2), Microsoft k=1..14 (100 ok).
 *   fewdays.example  Google k=1..4 (200 ok), Microsoft k=1..4 (100 ok), and one 7-day report from a third
 *                    reporter starting k=7 (700 ok).
 *   single.example   Google only, k=1..14 (50 ok), mode "enforce".
 *   dual.example     Microsoft k=1..10 reports the same sessions under tlsa and sts (299 ok + 1 failed each;
 *                    the failure is tlsa-invalid under tlsa and certificate-host-mismatch under sts),
 *                    Google k=1..10 sts only (700 ok).
 *   tiebreak.example one Microsoft report at k=20: tlsa 10 ok, sts 8 ok (the type with more sessions counts).
 */

export const GOOGLE = 'Google Inc.';
export const MICROSOFT = 'Microsoft Corporation';
export const WEEKLY = 'Example Weekly Reporter';

export interface CraftedReport {
  /** RFC 8460 5.1 style file name. */
  filename: string;
  json: Record<string, unknown>;
}

interface PolicySpec {
  type: 'sts' | 'tlsa';
  domain: string;
  mode?: 'testing' | 'enforce' | 'none';
  ok: number;
  failed: number;
  details?: Array<{ result: string; n: number; mx?: string; ip?: string; sender?: string }>;
}

/** asOf minus k days, YYYY-MM-DD. */
export function dayOf(asOf: string, k: number): string {
  return new Date(Date.parse(`${asOf}T00:00:00Z`) - k * 86_400_000).toISOString().slice(0, 10);
}

export function craftedStatsSet(asOf: string): CraftedReport[] {
  const out: CraftedReport[] = [];
  const d = (k: number) => dayOf(asOf, k);

  const add = (org: string, k: number, policies: PolicySpec[], range: 'google' | 'exclusive' | 'week' = 'google') => {
    const start = `${d(k)}T00:00:00Z`;
    const end = range === 'google' ? `${d(k)}T23:59:59Z` : range === 'exclusive' ? `${d(k - 1)}T00:00:00Z` : `${d(k - 6)}T23:59:59Z`;
    const domain = policies[0]!.domain;
    const reportId = `${d(k)}_${domain}_${org.split(' ')[0]!.toLowerCase()}`;
    const json = {
      'organization-name': org,
      'date-range': { 'start-datetime': start, 'end-datetime': end },
      'contact-info': `tlsrpt@${org.split(' ')[0]!.toLowerCase()}.example`,
      'report-id': reportId,
      policies: policies.map((p) => ({
        policy: {
          'policy-type': p.type,
          'policy-string':
            p.type === 'sts'
              ? ['version: STSv1', `mode: ${p.mode ?? 'testing'}`, `mx: mx1.${p.domain}`, `mx: mx2.${p.domain}`, 'max_age: 604800']
              : ['3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF'],
          'policy-domain': p.domain,
          ...(p.type === 'sts' ? { 'mx-host': [`mx1.${p.domain}`, `mx2.${p.domain}`] } : {}),
        },
        summary: { 'total-successful-session-count': p.ok, 'total-failure-session-count': p.failed },
        'failure-details': (p.details ?? []).map((x) => ({
          'result-type': x.result,
          'sending-mta-ip': x.sender ?? '198.51.100.1',
          'receiving-mx-hostname': x.mx ?? `mx1.${p.domain}`,
          'receiving-ip': x.ip ?? '192.0.2.1',
          'failed-session-count': x.n,
        })),
      })),
    };
    const epoch = (iso: string) => Math.floor(Date.parse(iso) / 1000);
    out.push({ filename: `${org.split(' ')[0]!.toLowerCase()}!${domain}!${epoch(start)}!${epoch(end)}!${reportId}.json`, json });
  };

  for (let k = 1; k <= 14; k++) {
    const mode = k >= 12 ? 'none' : 'testing';
    add(GOOGLE, k, [
      k === 3
        ? { type: 'sts', domain: 'ready.example', mode, ok: 999, failed: 1, details: [{ result: 'certificate-expired', n: 1 }] }
        : { type: 'sts', domain: 'ready.example', mode, ok: 1000, failed: 0 },
    ]);
    if (k <= 10) add(MICROSOFT, k, [{ type: 'sts', domain: 'ready.example', mode, ok: 500, failed: 0 }], 'exclusive');
  }
  add(GOOGLE, 0, [{ type: 'sts', domain: 'ready.example', ok: 10, failed: 10, details: [{ result: 'starttls-not-supported', n: 10 }] }]);
  add(GOOGLE, 20, [
    { type: 'sts', domain: 'ready.example', ok: 0, failed: 5000, details: [{ result: 'starttls-not-supported', n: 5000 }] },
  ]);

  for (let k = 1; k <= 14; k++) {
    add(GOOGLE, k, [
      {
        type: 'sts',
        domain: 'failing.example',
        ok: 900,
        failed: 100,
        details: [
          { result: 'certificate-host-mismatch', n: 60, mx: 'mx1.failing.example', ip: '192.0.2.10', sender: '198.51.100.1' },
          { result: 'starttls-not-supported', n: 40, mx: 'mx2.failing.example', ip: '192.0.2.20', sender: '198.51.100.2' },
        ],
      },
    ]);
    add(MICROSOFT, k, [{ type: 'sts', domain: 'failing.example', ok: 100, failed: 0 }]);
  }

  for (let k = 1; k <= 4; k++) {
    add(GOOGLE, k, [{ type: 'sts', domain: 'fewdays.example', ok: 200, failed: 0 }]);
    add(MICROSOFT, k, [{ type: 'sts', domain: 'fewdays.example', ok: 100, failed: 0 }]);
  }
  add(WEEKLY, 7, [{ type: 'sts', domain: 'fewdays.example', ok: 700, failed: 0 }], 'week');

  for (let k = 1; k <= 14; k++) add(GOOGLE, k, [{ type: 'sts', domain: 'single.example', mode: 'enforce', ok: 50, failed: 0 }]);

  for (let k = 1; k <= 10; k++) {
    add(MICROSOFT, k, [
      { type: 'tlsa', domain: 'dual.example', ok: 299, failed: 1, details: [{ result: 'tlsa-invalid', n: 1 }] },
      { type: 'sts', domain: 'dual.example', ok: 299, failed: 1, details: [{ result: 'certificate-host-mismatch', n: 1 }] },
    ]);
    add(GOOGLE, k, [{ type: 'sts', domain: 'dual.example', ok: 700, failed: 0 }]);
  }

  add(MICROSOFT, 20, [
    { type: 'sts', domain: 'tiebreak.example', ok: 8, failed: 0 },
    { type: 'tlsa', domain: 'tiebreak.example', ok: 10, failed: 0 },
  ]);
  return out;
}
