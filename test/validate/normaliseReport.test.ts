/**
 * One regression test per named fix-up: a crafted report with exactly that deviation, the value it must be
 * read as, and exactly that fix-up recorded. Then the real samples: the recorded fix-ups are exactly those
 * their deviations call for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FIXUPS, normaliseReport, type FixupName } from '../../src/validate/normaliseReport.js';
import { validateReport } from '../../src/validate/validateReport.js';
import { ReportInputError } from '../../src/errors.js';
import { realJson } from '../helpers/fixtures.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests reach into nested report JSON to break it
type Json = Record<string, any>;

/** An RFC-conformant report with one sts policy and one failure detail: normalises with no fix-up. */
function base(): Json {
  return {
    'organization-name': 'Example Sender',
    'date-range': { 'start-datetime': '2024-03-26T00:00:00Z', 'end-datetime': '2024-03-26T23:59:59Z' },
    'contact-info': 'tlsrpt@sender.example',
    'report-id': 'r-1',
    policies: [
      {
        policy: {
          'policy-type': 'sts',
          'policy-string': ['version: STSv1', 'mode: testing', 'mx: mx.example.com', 'max_age: 86400'],
          'policy-domain': 'example.com',
          'mx-host': ['mx.example.com'],
        },
        summary: { 'total-successful-session-count': 10, 'total-failure-session-count': 2 },
        'failure-details': [
          {
            'result-type': 'certificate-expired',
            'sending-mta-ip': '192.0.2.1',
            'receiving-mx-hostname': 'mx.example.com',
            'receiving-ip': '198.51.100.7',
            'failed-session-count': 2,
          },
        ],
      },
    ],
  };
}

const p0 = (r: Json) => r.policies[0];
const d0 = (r: Json) => r.policies[0]['failure-details'][0];

interface Case {
  fixup: FixupName;
  mutate: (r: Json) => void;
  expect: (r: Json) => void;
  ctx?: { tlsReportDomain?: string; filename?: string };
}

const CASES: Case[] = [
  {
    fixup: 'datetime-without-zone',
    mutate: (r) => (r['date-range'] = { 'start-datetime': '2024-03-26T00:00:00', 'end-datetime': '2024-03-26T23:59:59' }),
    expect: (r) => assert.deepEqual(r['date-range'], { 'start-datetime': '2024-03-26T00:00:00Z', 'end-datetime': '2024-03-26T23:59:59Z' }),
  },
  {
    fixup: 'datetime-space-separator',
    mutate: (r) => (r['date-range']['start-datetime'] = '2024-03-26 00:00:00Z'),
    expect: (r) => assert.equal(r['date-range']['start-datetime'], '2024-03-26T00:00:00Z'),
  },
  {
    fixup: 'date-range-end-exclusive',
    mutate: (r) => (r['date-range']['end-datetime'] = '2024-03-27T00:00:00Z'),
    expect: (r) => assert.equal(r['date-range']['end-datetime'], '2024-03-26T23:59:59Z'),
  },
  {
    fixup: 'failure-details-missing',
    mutate: (r) => {
      delete p0(r)['failure-details'];
      p0(r).summary['total-failure-session-count'] = 0;
    },
    expect: (r) => assert.deepEqual(p0(r)['failure-details'], []),
  },
  {
    fixup: 'failure-detail-fields-missing',
    mutate: (r) => {
      delete d0(r)['sending-mta-ip'];
      delete d0(r)['receiving-ip'];
    },
    expect: (r) => assert.equal(d0(r)['failed-session-count'], 2),
  },
  {
    fixup: 'failure-total-mismatch',
    mutate: (r) => (p0(r).summary['total-failure-session-count'] = 1),
    expect: (r) => {
      assert.equal(p0(r).summary['total-failure-session-count'], 1, 'the total is kept as sent');
      assert.equal(d0(r)['failed-session-count'], 2, 'the detail is kept as sent');
    },
  },
  {
    fixup: 'tlsa-policy-string-json-encoded',
    mutate: (r) => {
      p0(r).policy['policy-type'] = 'tlsa';
      p0(r).policy['policy-string'] = ['["3 1 1 AAAA","3 1 1 BBBB"]'];
    },
    expect: (r) => assert.deepEqual(p0(r).policy['policy-string'], ['3 1 1 AAAA', '3 1 1 BBBB']),
  },
  {
    fixup: 'policy-string-trailing-cr',
    mutate: (r) => (p0(r).policy['policy-string'] = ['version: STSv1\r', 'mode: testing\r']),
    expect: (r) => assert.deepEqual(p0(r).policy['policy-string'], ['version: STSv1', 'mode: testing']),
  },
  {
    fixup: 'contact-info-null',
    mutate: (r) => (r['contact-info'] = null),
    expect: (r) => assert.equal(r['contact-info'], null),
  },
  {
    fixup: 'contact-info-missing',
    mutate: (r) => delete r['contact-info'],
    expect: (r) => assert.equal('contact-info' in r, false),
  },
  {
    fixup: 'policy-domain-from-mail-header',
    ctx: { tlsReportDomain: 'Example.ORG' },
    mutate: (r) => noPolicyFoundWithoutDomain(r),
    expect: (r) => assert.equal(p0(r).policy['policy-domain'], 'example.org'),
  },
  {
    fixup: 'policy-domain-from-filename',
    ctx: { filename: 'sender.example!example.net!1711411200!1711497599!42.json.gz' },
    mutate: (r) => noPolicyFoundWithoutDomain(r),
    expect: (r) => assert.equal(p0(r).policy['policy-domain'], 'example.net'),
  },
  {
    fixup: 'policy-domain-unknown',
    mutate: (r) => noPolicyFoundWithoutDomain(r),
    expect: (r) => assert.equal('policy-domain' in p0(r).policy, false),
  },
  {
    fixup: 'mx-host-string',
    mutate: (r) => (p0(r).policy['mx-host'] = '*.mail.example.com'),
    expect: (r) => assert.deepEqual(p0(r).policy['mx-host'], ['*.mail.example.com']),
  },
  {
    fixup: 'mx-host-pattern-key',
    mutate: (r) => {
      p0(r).policy['mx-host-pattern'] = ['mx.example.com'];
      delete p0(r).policy['mx-host'];
    },
    expect: (r) => {
      assert.deepEqual(p0(r).policy['mx-host'], ['mx.example.com']);
      assert.equal('mx-host-pattern' in p0(r).policy, false);
    },
  },
  {
    fixup: 'additional-info-uri-key',
    mutate: (r) => (d0(r)['additional-info-uri'] = 'https://sender.example/info'),
    expect: (r) => assert.equal(d0(r)['additional-information'], 'https://sender.example/info'),
  },
  {
    fixup: 'failure-error-code-key',
    mutate: (r) => (d0(r)['failure-error-code'] = 'X509_V_ERR_CERT_HAS_EXPIRED'),
    expect: (r) => assert.equal(d0(r)['failure-reason-code'], 'X509_V_ERR_CERT_HAS_EXPIRED'),
  },
  {
    fixup: 'misspelled-key',
    mutate: (r) => {
      p0(r).summary['total-success-session-count'] = 10;
      delete p0(r).summary['total-successful-session-count'];
    },
    expect: (r) => assert.equal(p0(r).summary['total-successful-session-count'], 10),
  },
  {
    fixup: 'counts-as-strings',
    mutate: (r) => {
      p0(r).summary['total-successful-session-count'] = '10';
      d0(r)['failed-session-count'] = ' 2 ';
      p0(r).summary['total-failure-session-count'] = '2';
    },
    expect: (r) => {
      assert.equal(p0(r).summary['total-successful-session-count'], 10);
      assert.equal(d0(r)['failed-session-count'], 2);
    },
  },
  {
    fixup: 'unknown-result-type',
    mutate: (r) => (d0(r)['result-type'] = 'quantum-handshake-failure'),
    expect: (r) => assert.equal(d0(r)['result-type'], 'quantum-handshake-failure'),
  },
];

function noPolicyFoundWithoutDomain(r: Json): void {
  p0(r).policy = { 'policy-type': 'no-policy-found' };
  p0(r).summary = { 'total-successful-session-count': 4, 'total-failure-session-count': 0 };
  p0(r)['failure-details'] = [];
}

describe('fix-ups', () => {
  it('the base report needs none', () => {
    const r = normaliseReport(base());
    assert.deepEqual(r.fixups, []);
    validateReport(r.report);
  });

  for (const c of CASES) {
    it(c.fixup, () => {
      const input = base();
      c.mutate(input);
      const before = structuredClone(input);
      const out = normaliseReport(input, c.ctx);
      assert.deepEqual(out.fixups, [c.fixup]);
      c.expect(out.report as Json);
      validateReport(out.report); // the result is a valid report
      assert.deepEqual(input, before, 'the input is not mutated');
    });
  }

  it('has a regression test for every JSON fix-up it defines', () => {
    const transport = [
      'report-part-mislabelled',
      'plain-json-labelled-gzip',
      'gzip-trailing-bytes',
      'zip-attachment',
      'report-in-mail-body',
    ];
    const tested = new Set([...CASES.map((c) => c.fixup), ...transport]);
    assert.deepEqual(
      Object.keys(FIXUPS).filter((f) => !tested.has(f as FixupName)),
      [],
    );
  });

  it('inPlace rewrites the value it is given, with the same result and fix-ups as a copy', () => {
    const a = base();
    a['date-range']['end-datetime'] = '2024-03-27T00:00:00Z';
    p0(a).summary['total-successful-session-count'] = '10';
    const b = structuredClone(a);
    const copied = normaliseReport(a);
    const inPlace = normaliseReport(b, {}, { inPlace: true });
    assert.equal(inPlace.report, b, 'the same object, rewritten');
    assert.deepEqual(inPlace.report, copied.report);
    assert.deepEqual(inPlace.fixups, copied.fixups);
  });

  it('does not guess: a count that is not digits stays for the schema to reject', () => {
    const r = base();
    p0(r).summary['total-successful-session-count'] = 'ten';
    const out = normaliseReport(r);
    assert.throws(
      () => validateReport(out.report),
      (e: unknown) =>
        e instanceof ReportInputError && e.reason === 'schema-violation' && /expected integer, got the string "ten"/.test(e.detail),
    );
  });

  it('does not guess: an unparseable date stays for the schema to reject (never the epoch)', () => {
    const r = base();
    r['date-range']['start-datetime'] = 'yesterday';
    assert.throws(
      () => validateReport(normaliseReport(r).report),
      (e: unknown) => e instanceof ReportInputError && /start-datetime.*"yesterday" is not an RFC 3339 date-time/.test(e.detail),
    );
  });
});

describe('schema strictness (RFC 8460 section 4)', () => {
  const rejects: Array<[string, (r: Json) => void, RegExp]> = [
    ['a fractional count', (r) => (d0(r)['failed-session-count'] = 1.5), /failed-session-count.*expected integer, got the fraction 1\.5/],
    ['no policies', (r) => (r.policies = []), /\$\.policies: the list is empty/],
    [
      'an unknown policy-type',
      (r) => (p0(r).policy['policy-type'] = 'invalid-policy-type'),
      /policy-type.*"invalid-policy-type" is not one of "tlsa", "sts", "no-policy-found"/,
    ],
    ['an sts policy without policy-domain', (r) => delete p0(r).policy['policy-domain'], /missing required key "policy-domain"/],
    [
      'a missing failure total',
      (r) => delete p0(r).summary['total-failure-session-count'],
      /missing required key "total-failure-session-count"/,
    ],
    ['an empty report-id', (r) => (r['report-id'] = ''), /report-id.*must not be empty/],
  ];
  for (const [name, mutate, detail] of rejects) {
    it(`rejects ${name}`, () => {
      const r = base();
      mutate(r);
      assert.throws(
        () => validateReport(normaliseReport(r).report),
        (e: unknown) => e instanceof ReportInputError && detail.test(e.detail),
      );
    });
  }

  it('accepts extra keys a sender adds', () => {
    const r = base();
    r['x-sender-extension'] = { anything: true };
    d0(r)['x-note'] = 'extra';
    validateReport(normaliseReport(r).report);
  });
});

describe('real samples record exactly the fix-ups their deviations call for', () => {
  const expected: Record<string, FixupName[]> = {
    'dmarc-report-viewer--microsoft.json': ['failure-details-missing', 'tlsa-policy-string-json-encoded'],
    'dmarc-report-viewer--no-contact.json': ['contact-info-null', 'date-range-end-exclusive'],
    'dmarc-report-viewer--no_ip_and_mx.json': ['failure-detail-fields-missing'],
    'issue--parsedmarc-575--mx.egressif.io.json': ['contact-info-null', 'date-range-end-exclusive'],
    'issue--sys4-tlsrpt-reporter-51--sonne.floppy.org.json': ['policy-domain-unknown'],
    'parsedmarc--mail.ru.json': ['date-range-end-exclusive', 'failure-detail-fields-missing', 'failure-total-mismatch'],
    'parsedmarc--rfc8460.json': ['mx-host-string', 'failure-detail-fields-missing'],
    'parsedmarc--smtp_tls.json': [],
    'stalwart-mail-auth--rpt02.json': [],
    'mox--microsoft--ATTACHMENT--microsoft.com!test.xmox.nl!1673308800!1673395199!133198585438131172.json.gz': [
      'datetime-without-zone',
      'failure-details-missing',
    ],
  };
  for (const [file, fixups] of Object.entries(expected)) {
    it(file, () => {
      const out = normaliseReport(realJson(file));
      assert.deepEqual([...out.fixups].sort(), [...fixups].sort());
      validateReport(out.report);
    });
  }

  it('the TLSA records of the Microsoft sample are unpacked to one string each', () => {
    const out = normaliseReport(realJson('dmarc-report-viewer--microsoft.json')).report as Json;
    const tlsa = out.policies.find((p: Json) => p.policy['policy-type'] === 'tlsa');
    assert.equal(tlsa.policy['policy-string'].length, 2);
    assert.ok(tlsa.policy['policy-string'].every((s: string) => /^3 1 1 [0-9a-f]+$/i.test(s)));
  });

  it('the sys4 sample takes its policy-domain from the file name when the mail gives one', () => {
    const out = normaliseReport(realJson('issue--sys4-tlsrpt-reporter-51--sonne.floppy.org.json'), {
      filename: 'sonne.floppy.org!mpi-klsb.mpg.de!1758326400!1758412799.json.gz',
    });
    assert.deepEqual(out.fixups, ['policy-domain-from-filename']);
    assert.equal((out.report as Json).policies[0].policy['policy-domain'], 'mpi-klsb.mpg.de');
  });
});
