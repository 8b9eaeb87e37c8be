/**
 * The labelled-part pass of extractReportPart (mailsplit to find the part, mailparser's header reading for
 * the facts, only that part's body decoded) gives exactly what mailparser's whole parse gives, for every
 * real sample mail and for hand-made variations of the header and transfer encodings; and a mail without a
 * labelled part still goes through the whole parse.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { extractByFullParse, extractReportPart } from '../../src/parse/extractReportPart.js';
import { realFixture, realFixtureNames } from '../helpers/fixtures.js';
import { buildReportMail } from '../helpers/reportMail.js';

const REPORT = realFixture('parsedmarc--smtp_tls.json');

function variants(): Array<[string, Buffer]> {
  const samples = realFixtureNames((n) => n.endsWith('.eml')).map((n): [string, Buffer] => [n, realFixture(n)]);
  const gz = gzipSync(REPORT);
  const qp = REPORT.toString('latin1')
    .replace(/=/g, '=3D')
    .replace(/(.{70})/g, '$1=\r\n');
  const crafted = (name: string, headers: string[], parts: string[]): [string, Buffer] => [
    name,
    Buffer.from(
      [
        ...headers,
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=tlsrpt; boundary="b1"',
        '',
        ...parts.flatMap((p) => ['--b1', p]),
        '--b1--',
        '',
      ].join('\r\n'),
    ),
  ];
  return [
    ...samples,
    ['buildReportMail gzip', buildReportMail({ report: JSON.parse(REPORT.toString()) })],
    ['buildReportMail json', buildReportMail({ report: JSON.parse(REPORT.toString()), gzip: false })],
    crafted(
      'encoded-word subject, folded headers, repeated TLS-Report-Domain, quoted-printable part',
      [
        'From: "Rapport =?utf-8?q?T=C3=A9st?=" <TLS@Example.COM>',
        'Subject: =?utf-8?b?UmVwb3J0IERvbWFpbjogZXhhbXBsZS5jb20=?=',
        '  Submitter: example.net Report-ID: <abc@example.net>',
        'TLS-Report-Domain: example.com',
        'TLS-Report-Domain: other.example',
        'TLS-Report-Submitter: =?utf-8?q?example.net?=',
        'Message-ID: no-brackets@example.net',
      ],
      [
        'Content-Type: text/plain',
        '',
        'human text',
        '--b1',
        'Content-Type: application/tlsrpt+json',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        qp,
      ],
    ),
    crafted(
      'filename in RFC 2231 form, 8bit part, no Message-ID',
      ['From: tls@example.net', 'Subject: Report-ID: <x@example.net>'],
      [
        'Content-Type: APPLICATION/TLSRPT+JSON; name=ignored.json',
        "Content-Disposition: attachment; filename*=utf-8''a%21b%21c.json",
        'Content-Transfer-Encoding: 8bit',
        '',
        REPORT.toString('utf8'),
      ],
    ),
    crafted(
      'two labelled parts: the first one',
      ['From: tls@example.net', 'Subject: two'],
      [
        'Content-Type: application/tlsrpt+gzip',
        'Content-Transfer-Encoding: base64',
        '',
        gz.toString('base64'),
        '--b1',
        'Content-Type: application/tlsrpt+json',
        '',
        '{"second": true}',
      ],
    ),
  ];
}

describe('extractReportPart: the labelled-part pass equals mailparser whole parse', () => {
  for (const [name, raw] of variants()) {
    it(name, async () => {
      const full = await extractByFullParse(raw).catch((err: Error) => err);
      const fast = await extractReportPart(raw).catch((err: Error) => err);
      assert.deepEqual(fast, full);
    });
  }

  it('a mail with only a mislabelled part is found by the whole parse, as before', async () => {
    const raw = buildReportMail({ report: JSON.parse(REPORT.toString()), contentType: 'application/octet-stream' });
    const part = await extractReportPart(raw);
    assert.equal(part.foundBy, 'filename');
    assert.deepEqual(part.fixups, ['report-part-mislabelled']);
  });
});
