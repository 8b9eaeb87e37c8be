/**
 * End to end over real HTTP (fetch), Postgres and Redis: report bodies POSTed as RFC 8460 5.4 describes end
 * as the same rows as the same reports sent by mail. Expected numbers are read off the report JSON by hand
 * (test/fixtures/real/PROVENANCE.md); the gzip bodies are the attachments of the mails in smtpToPostgres.test.ts
 * and carry the numbers asserted there.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/createLogger.js';
import { startReceiverService, type ReceiverService } from '../../src/services/receiverService.js';
import { realFixture } from '../helpers/fixtures.js';
import { postReport, startHttpHarness, type HttpHarness } from '../helpers/httpHarness.js';
import { queuedId, smtpSend } from '../helpers/smtpSend.js';
import { storedPolicies } from '../helpers/storedPolicies.js';

interface Expected {
  contentType: string;
  org: string;
  reportId: string;
  /** [policy-type, policy-domain, successful, failed, failure-detail rows] per policy */
  policies: Array<[string, string | null, number, number, number]>;
  fixups: string[];
}

const GZ = 'application/tlsrpt+gzip';
const JSON_TYPE = 'application/tlsrpt+json';

const BODIES: Record<string, Expected> = {
  'mox--example--ATTACHMENT--google.com!test.xmox.nl!1663200000!1663286399!001.json.gz': {
    contentType: GZ,
    org: 'Google Inc.',
    reportId: '2022-09-15T00:00:00Z_test.xmox.nl',
    policies: [['sts', 'test.xmox.nl', 3, 0, 0]],
    fixups: ['failure-details-missing'],
  },
  'mox--microsoft--ATTACHMENT--microsoft.com!test.xmox.nl!1673308800!1673395199!133198585438131172.json.gz': {
    contentType: GZ,
    org: 'Microsoft Corporation',
    reportId: '133198585438131172+test.xmox.nl',
    policies: [['sts', 'test.xmox.nl', 2, 0, 0]],
    fixups: ['datetime-without-zone', 'failure-details-missing'],
  },
  'parsedmarc--google.com_smtp_tls_report--ATTACHMENT--google.com!cardinalhealth.ca!1725321600!1725407999!001.json.gz': {
    contentType: GZ,
    org: 'Google Inc.',
    reportId: '2024-09-03T00:00:00Z_cardinalhealth.ca',
    policies: [['no-policy-found', 'cardinalhealth.ca', 48, 0, 0]],
    fixups: ['failure-details-missing'],
  },
  'stalwart-mail-auth--rpt01--ATTACHMENT--mail.sender.example!example.com!1013662812!1013749130.json.gz': {
    contentType: GZ,
    org: 'Company-X',
    reportId: '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
    policies: [['sts', 'company-y.example', 5326, 303, 3]],
    fixups: ['failure-detail-fields-missing'],
  },
  'tlsrpt-digest--tlsrpt_success_google_1--ATTACHMENT--google.com!example.com!1778457600!1778543999!001.json.gz': {
    contentType: GZ,
    org: 'Google Inc.',
    reportId: '2026-05-11T00:00:00Z_example.com',
    policies: [['sts', 'example.com', 1, 0, 0]],
    fixups: ['failure-details-missing'],
  },
  'dmarc-report-viewer--microsoft.json': {
    contentType: JSON_TYPE,
    org: 'Microsoft Corporation',
    reportId: '133925885310113267+random.net',
    policies: [
      ['sts', 'random.net', 2, 0, 0],
      ['tlsa', 'random.net', 2, 0, 0],
    ],
    fixups: ['failure-details-missing', 'tlsa-policy-string-json-encoded'],
  },
  // No mail header and no file name over HTTPS: the domain of a no-policy-found policy stays unknown.
  'issue--sys4-tlsrpt-reporter-51--sonne.floppy.org.json': {
    contentType: JSON_TYPE,
    org: 'sonne.floppy.org',
    reportId: '2025-09-20T00:00:00Z_idx1_mpi-klsb.mpg.de',
    policies: [['no-policy-found', null, 1, 0, 0]],
    fixups: ['policy-domain-unknown'],
  },
  'parsedmarc--mail.ru.json': {
    contentType: JSON_TYPE,
    org: 'Mail.ru',
    reportId: 'b28254de-7b2e-be36-bb5c-4c3b92da8b25@mail.ru',
    policies: [['sts', 'example.com', 0, 1, 2]],
    fixups: ['date-range-end-exclusive', 'failure-detail-fields-missing', 'failure-total-mismatch'],
  },
  'dmarc-report-viewer--no_ip_and_mx.json': {
    contentType: JSON_TYPE,
    org: 'Microsoft Corporation',
    reportId: '1234567890+',
    policies: [['sts', 'xxxxxxxx.xx', 0, 3, 1]],
    fixups: ['failure-detail-fields-missing'],
  },
};

describe('report bodies over HTTP', () => {
  let h: HttpHarness;
  let smtp: ReceiverService;
  before(async () => {
    h = await startHttpHarness({ REPORT_MAX_BYTES: '1MiB' });
    smtp = await startReceiverService(h.config, createLogger('silent'));
  });
  after(async () => {
    await smtp?.stop();
    await h?.close();
  });

  for (const [file, exp] of Object.entries(BODIES)) {
    it(`${file} (${exp.contentType}) is stored with the numbers of its report`, async () => {
      const body = realFixture(file);
      const res = await postReport(h.url(), body, { 'content-type': exp.contentType });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, 'accepted');
      const id = res.body.id!;
      // The reply came after the commit: the row holds the body byte for byte, already.
      const raw = (await h.db.pool.query(`SELECT channel, raw, remote_address FROM raw_messages WHERE id = $1`, [id])).rows[0];
      assert.equal(raw.channel, 'http');
      assert.ok(body.equals(raw.raw), 'stored bytes equal the POST body');
      assert.equal(raw.remote_address, '127.0.0.1');

      const msg = await h.settled(id);
      assert.equal(msg.status, 'stored', `${msg.reason}: ${msg.detail}`);
      const report = (await h.db.pool.query(`SELECT * FROM reports WHERE id = $1`, [msg.report_id])).rows[0];
      assert.equal(report.organization_name, exp.org);
      assert.equal(report.report_id, exp.reportId);
      assert.deepEqual([...report.fixups].sort(), [...exp.fixups].sort());
      const policies = await storedPolicies(h.db.pool, report.id);
      assert.deepEqual(policies, exp.policies);
    });
  }

  it('stores the failure details of a POSTed report field by field', async () => {
    const rows = (
      await h.db.pool.query(
        `SELECT d.result_type, d.failed_session_count AS n, d.failure_reason_code
         FROM failure_details d JOIN reports r ON r.id = d.report_id
         WHERE r.report_id = 'b28254de-7b2e-be36-bb5c-4c3b92da8b25@mail.ru' ORDER BY d.id`,
      )
    ).rows;
    assert.deepEqual(rows, [
      { result_type: 'sts-policy-fetch-error', n: 1, failure_reason_code: 'bad https response code: 404' },
      { result_type: 'sts-policy-fetch-error', n: 1, failure_reason_code: 'bad https response code: 500' },
    ]);
  });

  it('the same report by HTTPS and by mail is one report: the second delivery is a duplicate', async () => {
    const body = realFixture(
      'tlsrpt-digest--tlsrpt_success_microsoft--ATTACHMENT--microsoft.com!example.com!1778630400!1778716799!134232617934286362.json.gz',
    );
    const posted = await postReport(h.url(), body, { 'content-type': GZ });
    assert.equal(posted.status, 200);
    const first = await h.settled(posted.body.id!);
    assert.equal(first.status, 'stored');
    const mailed = await smtpSend(smtp.port, realFixture('tlsrpt-digest--tlsrpt_success_microsoft.eml'));
    assert.equal(mailed.code, 250, mailed.response);
    const second = await h.settled(queuedId(mailed.response));
    // duplicate, not conflict: the report JSON in the mail is byte for byte the POSTed one.
    assert.equal(second.status, 'duplicate');
    assert.equal(second.report_id, first.report_id);
    const policies = (
      await h.db.pool.query(`SELECT policy_domain, total_successful_session_count AS ok FROM policies WHERE report_id = $1`, [
        first.report_id,
      ])
    ).rows;
    assert.deepEqual(policies, [{ policy_domain: 'example.com', ok: 2 }]);
  });

  it('a duplicate POST stores the report once and keeps both bodies', async () => {
    const body = realFixture('issue--dmarc-metrics-exporter-52--google-maxchernoff.ca.json');
    const a = await postReport(h.url(), body, { 'content-type': JSON_TYPE });
    const b = await postReport(h.url(), body, { 'content-type': JSON_TYPE });
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.notEqual(a.body.id, b.body.id);
    const [sa, sb] = [await h.settled(a.body.id!), await h.settled(b.body.id!)];
    assert.deepEqual([sa.status, sb.status].sort(), ['duplicate', 'stored']);
    assert.equal(sa.report_id, sb.report_id);
    const n = await h.db.pool.query(`SELECT count(*)::int AS n FROM reports WHERE report_id = '2025-06-01T00:00:00Z_maxchernoff.ca'`);
    assert.equal(n.rows[0].n, 1);
    const sessions = await h.db.pool.query(
      `SELECT sum(total_successful_session_count)::int AS ok FROM policies WHERE policy_domain = 'maxchernoff.ca'`,
    );
    assert.equal(sessions.rows[0].ok, 3, 'counted once');
  });

  it('reads a body by its bytes, not its label: gzip sent as application/octet-stream, and Content-Encoding: gzip', async () => {
    const mislabelled = await postReport(h.url(), gzipSync(realFixture('dmarc-report-viewer--google.json')), {
      'content-type': 'application/octet-stream',
    });
    assert.equal(mislabelled.status, 200);
    assert.equal((await h.settled(mislabelled.body.id!)).status, 'stored');

    const encoded = await postReport(h.url(), gzipSync(realFixture('dmarc-report-viewer--no-policy.json')), {
      'content-type': JSON_TYPE,
      'content-encoding': 'gzip',
    });
    assert.equal(encoded.status, 200);
    const msg = await h.settled(encoded.body.id!);
    assert.equal(msg.status, 'stored', `${msg.reason}: ${msg.detail}`);
    const p = (await h.db.pool.query(`SELECT policy_type, policy_domain FROM policies WHERE report_id = $1`, [msg.report_id])).rows;
    assert.deepEqual(p, [{ policy_type: 'no-policy-found', policy_domain: 'foo-bar.io' }]);
  });

  it('accepts a truncated gzip body, then quarantines it as gzip-corrupt', async () => {
    const gz = realFixture('mox--example--ATTACHMENT--google.com!test.xmox.nl!1663200000!1663286399!001.json.gz');
    const res = await postReport(h.url(), gz.subarray(0, Math.floor(gz.length / 2)), { 'content-type': GZ });
    assert.equal(res.status, 200, 'stored first: the worker, not the endpoint, judges the content');
    const msg = await h.settled(res.body.id!);
    assert.equal(msg.status, 'quarantined');
    assert.equal(msg.reason, 'gzip-corrupt');
  });

  it('accepts a decompression bomb, then quarantines it as decompression-limit without inflating it', async () => {
    // 8 MiB of JSON whitespace compresses to about 8 KiB; REPORT_MAX_BYTES is 1 MiB here.
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"organization-name":"'), Buffer.alloc(8 * 1024 * 1024, 0x20), Buffer.from('"}')]));
    assert.ok(bomb.length < 64 * 1024);
    const res = await postReport(h.url(), bomb, { 'content-type': GZ });
    assert.equal(res.status, 200);
    const msg = await h.settled(res.body.id!);
    assert.equal(msg.status, 'quarantined');
    assert.equal(msg.reason, 'decompression-limit');
  });

  it('quarantines a JSON body that is not a TLS report (schema-violation), naming the problem', async () => {
    const res = await postReport(h.url(), realFixture('stalwart-mail-auth--rpt03.json'), { 'content-type': JSON_TYPE });
    assert.equal(res.status, 200);
    const msg = await h.settled(res.body.id!);
    assert.equal(msg.status, 'quarantined');
    assert.equal(msg.reason, 'schema-violation');
  });
});
