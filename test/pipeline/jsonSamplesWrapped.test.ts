/**
 * Each JSON sample of the real set, gzipped and wrapped in an RFC 8460 5.3 mail, ends stored (or, for the
 * two that are broken on purpose, quarantined with the specific reason): never an unhandled error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { realFixture, realFixtureNames } from '../helpers/fixtures.js';
import { startHarness, type Harness } from '../helpers/pipelineHarness.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { queuedId, smtpSend } from '../helpers/smtpSend.js';

/** Outcome per sample; the same report can appear twice in the set (see PROVENANCE.md). */
const EXPECTED: Record<string, { status: string; reason?: string }> = {
  'dmarc-report-viewer--google-raw-onelinefile.json': { status: 'stored' },
  'dmarc-report-viewer--google.json': { status: 'stored' },
  'dmarc-report-viewer--microsoft.json': { status: 'stored' },
  'dmarc-report-viewer--no-contact.json': { status: 'stored' },
  'dmarc-report-viewer--no-policy.json': { status: 'stored' },
  'dmarc-report-viewer--no_ip_and_mx.json': { status: 'stored' },
  // The draft's example has a raw line break inside a string: not JSON, on purpose.
  'draft-ietf-uta-smtp-tlsrpt-23--appendix-example.txt': { status: 'quarantined', reason: 'json-invalid' },
  'issue--dmarc-metrics-exporter-52--google-maxchernoff.ca.json': { status: 'stored' },
  'issue--dmarc-report-viewer-57--microsoft-sts-fetch-error.json': { status: 'stored' },
  'issue--dmarc-report-viewer-71--refluxstop.de.json': { status: 'stored' },
  'issue--parsedmarc-575--mx.egressif.io.json': { status: 'stored' },
  'issue--sys4-tlsrpt-reporter-51--sonne.floppy.org.json': { status: 'stored' },
  'parsedmarc--mail.ru.json': { status: 'stored' },
  // The RFC example: Company-X report 5065427c..., first of three copies in the set.
  'parsedmarc--rfc8460.json': { status: 'stored' },
  'parsedmarc--smtp_tls.json': { status: 'stored' },
  // Same organisation and report-id as parsedmarc--rfc8460.json but other bytes (the URL is mangled): conflict.
  'stalwart-mail-auth--rpt01.json': { status: 'conflict' },
  'stalwart-mail-auth--rpt02.json': { status: 'stored' },
  // Negative test: an unknown policy-type and missing failure totals.
  'stalwart-mail-auth--rpt03.json': { status: 'quarantined', reason: 'schema-violation' },
};

describe('every JSON sample wrapped in a report mail', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.close());

  it('covers every JSON sample in the fixture set', () => {
    assert.deepEqual(
      realFixtureNames((f) => f.endsWith('.json') || f.endsWith('.txt')),
      Object.keys(EXPECTED).sort(),
    );
  });

  for (const [file, exp] of Object.entries(EXPECTED)) {
    it(`${file} -> ${exp.status}${exp.reason ? ` (${exp.reason})` : ''}`, async () => {
      const sent = await smtpSend(h.receiver.port, buildReportMail({ report: realFixture(file) }));
      assert.equal(sent.code, 250, sent.response);
      const msg = await h.settled(queuedId(sent.response));
      assert.equal(msg.status, exp.status, `${msg.reason}: ${msg.detail}`);
      if (exp.reason) assert.equal(msg.reason, exp.reason);
      if (exp.status === 'stored') {
        // Session totals in Postgres equal the JSON's.
        const json = JSON.parse(realFixture(file).toString()) as {
          policies: Array<{ summary: Record<string, number | string> }>;
        };
        const want = json.policies.map((p) => [
          Number(p.summary['total-successful-session-count']),
          Number(p.summary['total-failure-session-count']),
        ]);
        const got = (
          await h.db.pool.query(
            `SELECT total_successful_session_count AS ok, total_failure_session_count AS failed
             FROM policies WHERE report_id = $1 ORDER BY policy_index`,
            [msg.report_id],
          )
        ).rows.map((r) => [r.ok, r.failed]);
        assert.deepEqual(got, want);
      }
    });
  }
});
