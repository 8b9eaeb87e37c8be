/**
 * The generator (whose output the validators must accept), the pure evaluation of check facts, and the
 * comparison of reported policy strings with the published policy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { comparePolicyWithReports, readPolicyString, type ReportedPolicy } from '../../src/policy/check/comparePolicyWithReports.js';
import { evaluateDomain, type DomainFacts } from '../../src/policy/check/evaluateDomain.js';
import { generatePolicy } from '../../src/policy/generate/generatePolicy.js';
import { parseStsPolicy, type StsPolicy } from '../../src/policy/syntax/parseStsPolicy.js';
import { parseStsRecord } from '../../src/policy/syntax/parseStsRecord.js';
import { parseTlsRptRecord } from '../../src/policy/syntax/parseTlsRptRecord.js';
import { PolicyInputError } from '../../src/policy/policyErrors.js';
import { realJson } from '../helpers/fixtures.js';

const NOW = new Date('2024-03-01T12:34:56Z');
const RUA = ['mailto:tlsrpt@reports.example.com'];

describe('generatePolicy', () => {
  it('prints a testing policy with a one-week max_age and records the validators accept', () => {
    const g = generatePolicy({ domain: 'Example.COM.', mx: ['mx1.example.com', 'mx2.example.com.'], rua: RUA, now: NOW });
    assert.equal(g.policyText, 'version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 604800\n');
    assert.equal(g.policyUrl, 'https://mta-sts.example.com/.well-known/mta-sts.txt');
    assert.deepEqual(g.stsRecord, { name: '_mta-sts.example.com', value: 'v=STSv1; id=20240301123456Z' });
    assert.deepEqual(g.tlsrptRecord, { name: '_smtp._tls.example.com', value: 'v=TLSRPTv1; rua=mailto:tlsrpt@reports.example.com' });
    assert.deepEqual(g.warnings, []);
    // Round trip through the three validators.
    assert.deepEqual(parseStsPolicy(g.policyText).problems, []);
    assert.deepEqual(parseStsRecord([g.stsRecord.value], 'example.com').record, { id: '20240301123456Z', extensions: [] });
    assert.deepEqual(parseTlsRptRecord([g.tlsrptRecord.value], 'example.com').record?.rua, RUA);
  });

  it('uses two weeks for enforce, one day for none, and an explicit --max-age as given', () => {
    assert.match(
      generatePolicy({ domain: 'example.com', mx: ['*.example.com'], mode: 'enforce', rua: RUA, now: NOW }).policyText,
      /max_age: 1209600\n/,
    );
    assert.match(
      generatePolicy({ domain: 'example.com', mx: ['mx.example.com'], mode: 'none', rua: RUA, now: NOW }).policyText,
      /max_age: 86400\n/,
    );
    const short = generatePolicy({ domain: 'example.com', mx: ['mx.example.com'], maxAge: 3600, rua: RUA, now: NOW });
    assert.match(short.policyText, /max_age: 3600\n/);
    assert.deepEqual(
      short.warnings.map((w) => w.code),
      ['max-age-short'],
    );
  });

  it('refuses what would make an invalid policy or record, saying why', () => {
    const fails = (input: Partial<Parameters<typeof generatePolicy>[0]>, code: string): void => {
      assert.throws(
        () => generatePolicy({ domain: 'example.com', mx: ['mx.example.com'], rua: RUA, now: NOW, ...input }),
        (err: unknown) => err instanceof PolicyInputError && err.code === code,
      );
    };
    fails({ mx: ['mail.*.example.com'] }, 'mx-wildcard');
    fails({ mx: [] }, 'mx-missing');
    fails({ rua: [] }, 'rua-missing');
    fails({ rua: ['tlsrpt@example.com'] }, 'rua-missing-mailto');
    fails({ domain: 'not a domain' }, 'domain-invalid');
    fails({ maxAge: 31_557_601 }, 'max-age-too-large');
  });
});

const GOOD_POLICY = 'version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.backup.example.com\nmax_age: 1209600\n';

function facts(over: Partial<DomainFacts> = {}): DomainFacts {
  return {
    domain: 'example.com',
    mx: {
      status: 'found',
      value: [
        { exchange: 'mx1.example.com', priority: 10 },
        { exchange: 'b1.backup.example.com', priority: 20 },
      ],
    },
    stsTxt: { status: 'found', value: ['v=STSv1; id=20240301'] },
    tlsrptTxt: { status: 'found', value: ['v=TLSRPTv1; rua=mailto:tlsrpt@reports.example.com'] },
    policyFetch: {
      ok: true,
      url: 'https://mta-sts.example.com/.well-known/mta-sts.txt',
      address: '192.0.2.1',
      contentType: 'text/plain',
      body: Buffer.from(GOOD_POLICY),
      certificate: {
        subject: 'mta-sts.example.com',
        names: ['mta-sts.example.com'],
        issuer: 'R3',
        validFrom: null,
        validTo: 'May  1 00:00:00 2024 GMT',
      },
    },
    ours: { rua: RUA, acceptedRecipients: [] },
    now: NOW,
    ...over,
  };
}

const statuses = (f: DomainFacts): string[] => evaluateDomain(f).findings.map((x) => `${x.check}:${x.status}`);

describe('evaluateDomain', () => {
  it('passes a correct set-up, check by check', () => {
    assert.deepEqual(statuses(facts()), [
      'mx-records:pass',
      'sts-record:pass',
      'sts-id:pass',
      'tlsrpt-record:pass',
      'rua-target:pass',
      'policy-host-certificate:pass',
      'policy-fetch:pass',
      'policy-syntax:pass',
      'mx-coverage:pass',
    ]);
  });

  it('fails an MX no pattern covers, and warns about a certificate expiring within two weeks', () => {
    const f = facts({
      mx: {
        status: 'found',
        value: [
          { exchange: 'mx1.example.com', priority: 10 },
          { exchange: 'mx2.example.com', priority: 20 },
        ],
      },
    });
    const cov = evaluateDomain(f).findings.find((x) => x.check === 'mx-coverage')!;
    assert.equal(cov.status, 'fail');
    assert.match(cov.summary, /^MX mx2\.example\.com matches no mx pattern/);
    assert.match(cov.fix!, /"mx: mx2\.example\.com"/);
    const expiring = facts();
    if (expiring.policyFetch.ok) expiring.policyFetch.certificate!.validTo = 'Mar 10 00:00:00 2024 GMT';
    const cert = evaluateDomain(expiring).findings.find((x) => x.check === 'policy-host-certificate')!;
    assert.equal(cert.status, 'warn');
    assert.match(cert.summary, /in 8 days/);
  });

  it('warns when we are a later rua target, and when the policy is not served as text/plain', () => {
    const f = facts({
      tlsrptTxt: { status: 'found', value: ['v=TLSRPTv1; rua=mailto:dmarc@vendor.example,mailto:tlsrpt@reports.example.com'] },
    });
    if (f.policyFetch.ok) f.policyFetch.contentType = 'application/octet-stream';
    const byCheck = new Map(evaluateDomain(f).findings.map((x) => [x.check, x]));
    assert.equal(byCheck.get('rua-target')!.status, 'warn');
    assert.match(
      byCheck.get('rua-target')!.summary,
      /rua target 2 of 2; Microsoft sends reports only to the first \(mailto:dmarc@vendor\.example\)/,
    );
    assert.equal(byCheck.get('policy-fetch')!.status, 'warn');
  });

  it('tells a failing DNS lookup from a missing record', () => {
    const f = facts({
      stsTxt: { status: 'error', code: 'ESERVFAIL', message: 'queryTxt ESERVFAIL _mta-sts.example.com' },
      tlsrptTxt: { status: 'none', code: 'ENOTFOUND' },
    });
    const byCheck = new Map(evaluateDomain(f).findings.map((x) => [x.check, x]));
    assert.match(byCheck.get('sts-record')!.summary, /failed: ESERVFAIL/);
    assert.equal(byCheck.get('tlsrpt-record')!.status, 'fail');
    assert.match(byCheck.get('tlsrpt-record')!.summary, /no TXT record at _smtp\._tls\.example\.com/);
    assert.equal(byCheck.has('rua-target'), false);
  });
});

describe('comparePolicyWithReports', () => {
  // The RFC 8460 sample report (parsedmarc--rfc8460.json): policy-string mode testing, mx *.mail.company-y.example,
  // max_age 86400; failures at mx1, mx2 and mx-backup.mail.company-y.example.
  const sample = realJson('parsedmarc--rfc8460.json') as { policies: Array<{ policy: { 'policy-string': string[] } }> };
  const policyString = sample.policies[0]!.policy['policy-string'];
  const reported: ReportedPolicy = {
    organizationName: 'Company-X',
    policyString,
    reports: 1,
    firstSeen: new Date('2016-04-01T00:00:00Z'),
    lastSeen: new Date('2016-04-01T23:59:59Z'),
    successfulSessions: 5326,
    failedSessions: 303,
  };
  const failures = [
    { hostname: 'mx1.mail.company-y.example', organizationName: 'Company-X', failedSessions: 100, resultTypes: ['certificate-expired'] },
    { hostname: 'mx2.mail.company-y.example', organizationName: 'Company-X', failedSessions: 200, resultTypes: ['starttls-not-supported'] },
    { hostname: 'mx-backup.mail.company-y.example', organizationName: 'Company-X', failedSessions: 3, resultTypes: ['validation-failure'] },
  ];

  it('reads the policy-string of the sample', () => {
    assert.deepEqual(readPolicyString(policyString), {
      version: 'STSv1',
      mode: 'testing',
      maxAge: 86400,
      mx: ['*.mail.company-y.example'],
    });
  });

  it('passes when reporters used the published policy and every failing MX is covered', () => {
    const published = parseStsPolicy(policyString.join('\n')).policy!;
    const c = comparePolicyWithReports('company-y.example', published, [reported], failures, 14);
    assert.deepEqual(
      c.findings.map((f) => `${f.check}:${f.status}`),
      ['reports-policy:pass', 'reports-mode:pass', 'reports-mx:pass'],
    );
    assert.match(c.findings[0]!.summary, /1 reporter\(s\) in the last 14 days applied the published policy: Company-X/);
  });

  it('finds an old policy, another mode and uncovered MX names against a changed published policy', () => {
    const published: StsPolicy = { version: 'STSv1', mode: 'enforce', maxAge: 604800, mx: ['mx1.mail.company-y.example'], extensions: [] };
    const c = comparePolicyWithReports('company-y.example', published, [reported], failures, 14);
    const byCheck = new Map(c.findings.map((f) => [f.check, f]));
    assert.equal(byCheck.get('reports-policy')!.status, 'warn');
    assert.deepEqual(byCheck.get('reports-policy')!.details, [
      'Company-X, 1 report(s), last 2016-04-01: mode testing (published: enforce); max_age 86400 (published: 604800); ' +
        'mx *.mail.company-y.example no longer published; mx mx1.mail.company-y.example missing',
    ]);
    assert.equal(byCheck.get('reports-mode')!.status, 'warn');
    assert.equal(byCheck.get('reports-mode')!.summary, 'reporters applied mode testing while the published mode is enforce');
    assert.equal(byCheck.get('reports-mx')!.status, 'fail');
    assert.deepEqual(
      c.uncoveredMx.map((f) => f.hostname),
      ['mx2.mail.company-y.example', 'mx-backup.mail.company-y.example'],
    );
    assert.deepEqual(byCheck.get('reports-mx')!.details, [
      'mx2.mail.company-y.example: 200 failed session(s) reported by Company-X (starttls-not-supported)',
      'mx-backup.mail.company-y.example: 3 failed session(s) reported by Company-X (validation-failure)',
    ]);
  });

  it('says there is nothing to compare when no report carries a policy', () => {
    const published = parseStsPolicy(GOOD_POLICY).policy!;
    const c = comparePolicyWithReports('example.com', published, [], [], 7);
    assert.deepEqual(
      c.findings.map((f) => `${f.check}:${f.status}`),
      ['reports-policy:pass', 'reports-mx:pass'],
    );
    assert.match(c.findings[0]!.summary, /no report in the last 7 days/);
  });
});
