/**
 * The MIME stage tolerates what real transport does to report mails. Each case is generated here from a
 * real report, so the expected numbers are those of the report.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { ReportInputError } from '../../src/errors.js';
import { decodeMessage } from '../../src/pipeline/decodeMessage.js';
import { realFixture } from '../helpers/fixtures.js';
import { buildZip } from '../helpers/zip.js';

const REPORT = realFixture('parsedmarc--smtp_tls.json'); // Example Inc., 1 sts policy, 0 ok / 3 failed, 2 details
const OPTS = { reportMaxBytes: 1 << 24 };

async function decode(mail: Buffer | string) {
  return decodeMessage(Buffer.isBuffer(mail) ? mail : Buffer.from(mail), OPTS);
}

function assertReport(d: Awaited<ReturnType<typeof decode>>) {
  assert.equal(d.report.organizationName, 'Example Inc.');
  assert.equal(d.report.policies[0]!.failedSessions, 3);
  assert.equal(d.report.policies[0]!.failureDetails.length, 2);
}

/** A hand-written report mail whose parts and headers each case varies. */
function mail(o: { contentType?: string; reportType?: string; parts: string[]; closing?: boolean; eol?: string }): string {
  const eol = o.eol ?? '\r\n';
  const lines = [
    'From: noreply-smtp-tls-reporting@google.com',
    'To: tlsrpt@reports.example.com',
    'Subject: Report Domain: example.com Submitter: google.com Report-ID: <2024.01.09T00.00.00Z+example.com@google.com>',
    'TLS-Report-Domain: example.com',
    'TLS-Report-Submitter: google.com',
    'MIME-Version: 1.0',
    `Content-Type: ${o.contentType ?? `multipart/report; boundary="b1"; report-type=${o.reportType ?? 'tlsrpt'}`}`,
    '',
    ...o.parts.flatMap((p) => ['--b1', p]),
    ...(o.closing === false ? [] : ['--b1--']),
    '',
  ];
  return lines.join('\n').replace(/\r?\n/g, eol);
}

const b64 = (b: Buffer, width = 76) => b.toString('base64').replace(new RegExp(`.{${width}}`, 'g'), '$&\n');
const TEXT = 'Content-Type: text/plain; charset=utf-8\n\nThis is an aggregate TLS report from google.com\n';
const gzPart = (opts: { type?: string; name?: string | null; body?: string } = {}) =>
  [
    `Content-Type: ${opts.type ?? 'application/tlsrpt+gzip'}${opts.name === null ? '' : `; name="${opts.name ?? 'google.com!example.com!1704758400!1704844799!001.json.gz'}"`}`,
    'Content-Transfer-Encoding: base64',
    opts.name === null
      ? ''
      : `Content-Disposition: attachment; filename="${opts.name ?? 'google.com!example.com!1704758400!1704844799!001.json.gz'}"`,
    '',
    opts.body ?? b64(gzipSync(REPORT)),
  ]
    .filter((l, i) => l !== '' || i === 3)
    .join('\n');

describe('MIME transport quirks', () => {
  it('a well-formed RFC 8460 5.3 mail: found by media type, no fix-up', async () => {
    const d = await decode(mail({ parts: [TEXT, gzPart()] }));
    assertReport(d);
    assert.deepEqual(d.fixups, []);
    assert.equal(d.mail.tlsReportDomain, 'example.com');
    assert.equal(d.mail.subjectReportId, '2024.01.09T00.00.00Z+example.com@google.com');
  });

  it('report-type quoted, and boundary before it', async () => {
    assertReport(await decode(mail({ contentType: 'multipart/report; report-type="tlsrpt"; boundary="b1"', parts: [TEXT, gzPart()] })));
  });

  it('missing closing boundary', async () => {
    assertReport(await decode(mail({ parts: [TEXT, gzPart()], closing: false })));
  });

  it('bare LF line endings', async () => {
    assertReport(await decode(mail({ parts: [TEXT, gzPart()], eol: '\n' })));
  });

  it('base64 in long lines, and without its padding', async () => {
    const body = gzipSync(REPORT).toString('base64');
    assertReport(await decode(mail({ parts: [TEXT, gzPart({ body: b64(gzipSync(REPORT), 900) })] })));
    assertReport(await decode(mail({ parts: [TEXT, gzPart({ body: body.replace(/=+$/, '') })] })));
  });

  it('a text/html companion part and a gateway banner in the text part', async () => {
    const html = 'Content-Type: text/html; charset=utf-8\n\n<p>External Email – Please use caution</p><p>TLS report</p>\n';
    assertReport(await decode(mail({ contentType: 'multipart/mixed; boundary="b1"', parts: [html, gzPart()] })));
  });

  it('found by RFC 8460 5.1 file name when the type is application/octet-stream', async () => {
    const d = await decode(mail({ parts: [TEXT, gzPart({ type: 'application/octet-stream' })] }));
    assertReport(d);
    assert.deepEqual(d.fixups, ['report-part-mislabelled']);
  });

  it('found by content when neither type nor name says so', async () => {
    const d = await decode(mail({ parts: [TEXT, gzPart({ type: 'application/octet-stream', name: 'attachment.bin' })] }));
    assertReport(d);
    assert.deepEqual(d.fixups, ['report-part-mislabelled']);
  });

  it('plain JSON inside a part labelled gzip (quirk 18)', async () => {
    const d = await decode(mail({ parts: [TEXT, gzPart({ body: b64(REPORT) })] }));
    assertReport(d);
    assert.deepEqual(d.fixups, ['plain-json-labelled-gzip']);
  });

  it('a zip attachment (quirk 19)', async () => {
    const zip = buildZip([{ name: 'google.com!example.com!1704758400!1704844799!001.json', data: REPORT }]);
    const d = await decode(mail({ parts: [TEXT, gzPart({ type: 'application/zip', name: 'report.zip', body: b64(zip) })] }));
    assertReport(d);
    assert.deepEqual(d.fixups, ['report-part-mislabelled', 'zip-attachment']);
  });

  it('gzip with trailing CRLF (quirk 17)', async () => {
    const d = await decode(mail({ parts: [TEXT, gzPart({ body: b64(Buffer.concat([gzipSync(REPORT), Buffer.from('\r\n')])) })] }));
    assertReport(d);
    assert.deepEqual(d.fixups, ['gzip-trailing-bytes']);
  });

  it('the report as the body of a plain mail', async () => {
    const d = await decode(`From: a@example.org\r\nSubject: tls report\r\nContent-Type: text/plain\r\n\r\n${REPORT.toString()}`);
    assertReport(d);
    assert.deepEqual(d.fixups, ['report-in-mail-body']);
  });

  it('a bare .json.gz body (HTTPS POST, backfilled file)', async () => {
    const d = await decode(gzipSync(REPORT));
    assertReport(d);
    assert.equal(d.mail.tlsReportDomain, null);
  });

  it('the real mails keep their quirks readable: LF + banner (parsedmarc), text/html first part (Microsoft 2026)', async () => {
    for (const f of ['parsedmarc--google.com_smtp_tls_report.eml', 'tlsrpt-digest--tlsrpt_success_microsoft.eml']) {
      const d = await decodeMessage(realFixture(f), OPTS);
      assert.ok(d.report.policies.length > 0);
    }
  });

  it('a multipart mail without any report says what it saw', async () => {
    const pdf = 'Content-Type: application/pdf; name="invoice.pdf"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n';
    await assert.rejects(decode(mail({ parts: [TEXT, pdf] })), (e: unknown) => {
      assert.ok(e instanceof ReportInputError);
      assert.equal(e.reason, 'not-a-tls-report');
      assert.match(e.detail, /application\/pdf "invoice.pdf"/);
      return true;
    });
  });
});
