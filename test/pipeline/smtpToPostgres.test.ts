/**
 * End to end over real SMTP, Postgres and Redis: every real report mail ends as the right rows.
 * Expected numbers are read off the report JSON by hand (see test/fixtures/real/PROVENANCE.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { realFixture } from '../helpers/fixtures.js';
import { startHarness, type Harness } from '../helpers/pipelineHarness.js';
import { queuedId, smtpSend } from '../helpers/smtpSend.js';
import { storedPolicies } from '../helpers/storedPolicies.js';

interface Expected {
  org: string;
  reportId: string;
  /** [policy-type, policy-domain, successful, failed, failure-detail rows] per policy */
  policies: Array<[string, string | null, number, number, number]>;
  fixups: string[];
}

const MAILS: Record<string, Expected> = {
  'mox--example.eml': {
    org: 'Google Inc.',
    reportId: '2022-09-15T00:00:00Z_test.xmox.nl',
    policies: [['sts', 'test.xmox.nl', 3, 0, 0]],
    fixups: ['failure-details-missing'],
  },
  'mox--microsoft.eml': {
    org: 'Microsoft Corporation',
    reportId: '133198585438131172+test.xmox.nl',
    policies: [['sts', 'test.xmox.nl', 2, 0, 0]],
    fixups: ['datetime-without-zone', 'failure-details-missing'],
  },
  'parsedmarc--google.com_smtp_tls_report.eml': {
    org: 'Google Inc.',
    reportId: '2024-09-03T00:00:00Z_cardinalhealth.ca',
    policies: [['no-policy-found', 'cardinalhealth.ca', 48, 0, 0]],
    fixups: ['failure-details-missing'],
  },
  'stalwart-mail-auth--rpt01.eml': {
    org: 'Company-X',
    reportId: '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
    policies: [['sts', 'company-y.example', 5326, 303, 3]],
    fixups: ['failure-detail-fields-missing'],
  },
  'stalwart-mail-auth--rpt02.eml': {
    org: 'Google Inc.',
    reportId: '2020-01-01T00:00:00Z_example.com',
    policies: [['sts', 'example.com', 23, 1, 1]],
    fixups: ['report-part-mislabelled'],
  },
  'tlsrpt-digest--tlsrpt_failure.eml': {
    org: 'Google Inc.',
    reportId: '2026-02-08T00:00:00Z_example.com',
    policies: [['sts', 'example.com', 4523, 2, 1]],
    fixups: ['date-range-end-exclusive', 'failure-detail-fields-missing'],
  },
  'tlsrpt-digest--tlsrpt_success_google_1.eml': {
    org: 'Google Inc.',
    reportId: '2026-05-11T00:00:00Z_example.com',
    policies: [['sts', 'example.com', 1, 0, 0]],
    fixups: ['failure-details-missing'],
  },
  'tlsrpt-digest--tlsrpt_success_google_2.eml': {
    org: 'Google Inc.',
    reportId: '2026-05-12T00:00:00Z_example.com',
    policies: [['sts', 'example.com', 4, 0, 0]],
    fixups: ['failure-details-missing'],
  },
  'tlsrpt-digest--tlsrpt_success_microsoft.eml': {
    org: 'Microsoft Corporation',
    reportId: '134232617934286362+example.com',
    policies: [['sts', 'example.com', 2, 0, 0]],
    fixups: ['failure-details-missing'],
  },
};

describe('real report mails over SMTP', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ ACCEPTED_RECIPIENTS: 'tlsrpt@reports.example.com' });
  });
  after(() => h?.close());

  for (const [file, exp] of Object.entries(MAILS)) {
    it(`${file} is stored with the numbers of its report`, async () => {
      const sent = await smtpSend(h.receiver.port, realFixture(file));
      assert.equal(sent.code, 250, sent.response);
      const id = queuedId(sent.response);
      const msg = await h.settled(id);
      assert.equal(msg.status, 'stored', `${msg.reason}: ${msg.detail}`);

      const report = (await h.db.pool.query(`SELECT * FROM reports WHERE id = $1`, [msg.report_id])).rows[0];
      assert.equal(report.organization_name, exp.org);
      assert.equal(report.report_id, exp.reportId);
      assert.deepEqual([...report.fixups].sort(), [...exp.fixups].sort());
      assert.equal(report.raw_message_id, id);

      const policies = await storedPolicies(h.db.pool, report.id);
      assert.deepEqual(policies, exp.policies);
    });
  }

  it('records the RFC 8460 5.3 mail headers and the Subject Report-ID beside the JSON report-id', async () => {
    const r = (
      await h.db.pool.query(
        `SELECT tls_report_domain, tls_report_submitter, subject_report_id, attachment_filename
         FROM reports WHERE report_id = '2022-09-15T00:00:00Z_test.xmox.nl'`,
      )
    ).rows[0];
    assert.deepEqual(r, {
      tls_report_domain: 'test.xmox.nl',
      tls_report_submitter: 'google.com',
      subject_report_id: '2022.09.15T00.00.00Z+test.xmox.nl@google.com',
      attachment_filename: 'google.com!test.xmox.nl!1663200000!1663286399!001.json.gz',
    });
  });

  it('stores the failure details of a report field by field', async () => {
    const rows = (
      await h.db.pool.query(
        `SELECT d.result_type, d.sending_mta_ip, d.receiving_mx_hostname, d.receiving_ip, d.failed_session_count,
                d.additional_information, d.failure_reason_code
         FROM failure_details d JOIN reports r ON r.id = d.report_id
         WHERE r.report_id = '5065427c-23d3-47ca-b6e0-946ea0e8c4be' ORDER BY d.id`,
      )
    ).rows;
    assert.equal(rows.length, 3);
    assert.equal(
      rows.reduce((s, r) => s + r.failed_session_count, 0),
      303,
    );
    assert.equal(rows[0].result_type, 'certificate-expired');
    assert.equal(rows[0].receiving_ip, null); // absent in the report, not invented
    assert.ok(rows.every((r) => typeof r.sending_mta_ip === 'string' && r.sending_mta_ip.length > 0));
  });

  it('stores the same mail delivered twice once, and marks the second delivery duplicate', async () => {
    const first = await smtpSend(h.receiver.port, realFixture('mox--example.eml'));
    const again = await smtpSend(h.receiver.port, realFixture('mox--example.eml'));
    assert.equal(first.code, 250);
    assert.equal(again.code, 250);
    const a = await h.settled(queuedId(first.response));
    const b = await h.settled(queuedId(again.response));
    assert.deepEqual([a.status, b.status].sort(), ['duplicate', 'duplicate']); // the first copy was sent above
    const count = await h.db.pool.query(`SELECT count(*)::int AS n FROM reports WHERE report_id = '2022-09-15T00:00:00Z_test.xmox.nl'`);
    assert.equal(count.rows[0].n, 1);
    const raw = await h.db.pool.query(`SELECT count(*)::int AS n FROM raw_messages WHERE report_id = $1`, [a.report_id]);
    assert.equal(raw.rows[0].n, 3, 'every delivery keeps its raw mail');
  });

  it('refuses recipients outside ACCEPTED_RECIPIENTS with 550 and stores nothing', async () => {
    const before = await h.db.pool.query(`SELECT count(*)::int AS n FROM raw_messages`);
    const sent = await smtpSend(h.receiver.port, realFixture('mox--example.eml'), { to: ['postmaster@elsewhere.example'] });
    assert.equal(sent.ok, false);
    assert.equal(sent.code, 550, sent.response);
    const afterCount = await h.db.pool.query(`SELECT count(*)::int AS n FROM raw_messages`);
    assert.equal(afterCount.rows[0].n, before.rows[0].n);
  });

  it('accepts a sub-addressed recipient of an accepted address (quirk 29)', async () => {
    const sent = await smtpSend(h.receiver.port, realFixture('mox--microsoft.eml'), { to: ['tlsrpt+google@reports.example.com'] });
    assert.equal(sent.code, 250, sent.response);
  });
});
