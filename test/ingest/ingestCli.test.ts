/**
 * `tlsrpt ingest` as a child process over a directory holding the real samples, an mbox and a Maildir built
 * from them. Each expected outcome is worked out from test/fixtures/real/PROVENANCE.md (which files carry
 * the same report) and from the walk order (names sorted: 1-samples, 2-archive.mbox, 3-Maildir).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REAL_DIR, realFixture } from '../helpers/fixtures.js';
import { toLf, writeMboxrd } from '../helpers/mbox.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { runCli } from '../helpers/runCli.js';
import { REDIS_URL } from '../helpers/services.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const EMLS = [
  'mox--example.eml', // CRLF: rewritten with LF in the mbox, so new bytes carrying a stored report
  'mox--microsoft.eml', // CRLF: likewise
  'parsedmarc--google.com_smtp_tls_report.eml', // the rest are LF already: the same bytes as the samples
  'stalwart-mail-auth--rpt01.eml',
  'stalwart-mail-auth--rpt02.eml',
  'tlsrpt-digest--tlsrpt_failure.eml',
  'tlsrpt-digest--tlsrpt_success_google_1.eml',
  'tlsrpt-digest--tlsrpt_success_google_2.eml',
  'tlsrpt-digest--tlsrpt_success_microsoft.eml',
];

function craftedMail(domain: string, org: string): Buffer {
  const report = {
    'organization-name': org,
    'date-range': { 'start-datetime': '2025-03-01T00:00:00Z', 'end-datetime': '2025-03-01T23:59:59Z' },
    'contact-info': `tlsrpt@${domain}`,
    'report-id': `2025-03-01_${domain}`,
    policies: [
      {
        policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: testing'], 'policy-domain': domain },
        summary: { 'total-successful-session-count': 5, 'total-failure-session-count': 0 },
        'failure-details': [],
      },
    ],
  };
  return buildReportMail({ report, policyDomain: domain, submitter: `reports.${domain}`, reportId: `2025-03-01_${domain}` });
}

describe('tlsrpt ingest over the real samples, an mbox and a Maildir', () => {
  let db: TestDatabase;
  let root: string;
  let env: Record<string, string>;
  let mboxCrafted: Buffer;

  before(async () => {
    db = await createTestDatabase();
    env = { DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: `test-ingest-cli-${process.pid}` };
    root = mkdtempSync(join(tmpdir(), 'tlsrpt-ingest-'));
    cpSync(REAL_DIR, join(root, '1-samples'), { recursive: true });

    // A new report whose text part has lines the mbox must escape and give back unchanged.
    mboxCrafted = toLf(
      Buffer.from(
        craftedMail('mbox.example', 'Mbox Reporter')
          .toString('latin1')
          .replace(
            'This is an aggregate TLS report from reports.mbox.example',
            'See the attachment.\r\n\r\nFrom the reporter: nothing to add.\r\n>From a quoted line.',
          ),
        'latin1',
      ),
    );
    const mbox = writeMboxrd([...EMLS.map((f) => toLf(realFixture(f))), mboxCrafted]);
    assert.ok(mbox.includes('\n\n>From the reporter') && mbox.includes('\n>>From a quoted line'), 'the mbox holds escaped lines');
    writeFileSync(join(root, '2-archive.mbox'), mbox);

    mkdirSync(join(root, '3-Maildir', 'cur'), { recursive: true });
    mkdirSync(join(root, '3-Maildir', 'new'));
    mkdirSync(join(root, '3-Maildir', 'tmp'));
    writeFileSync(join(root, '3-Maildir', 'cur', '1700000000.M1P1.host:2,S'), realFixture('mox--example.eml'));
    writeFileSync(join(root, '3-Maildir', 'cur', '1700000001.M2P1.host:2,S'), realFixture('tlsrpt-digest--tlsrpt_failure.eml'));
    writeFileSync(join(root, '3-Maildir', 'new', '1700000002.M3P1.host'), craftedMail('maildir.example', 'Maildir Reporter'));
    // Mail still being delivered: Maildir readers leave tmp/ alone.
    writeFileSync(join(root, '3-Maildir', 'tmp', '1700000003.M4P1.host'), craftedMail('tmp.example', 'Tmp Reporter'));
  });
  after(async () => {
    if (root) rmSync(root, { recursive: true, force: true });
    await db?.drop();
  });

  it('stores, dedupes and quarantines every message as expected, and summarises', async () => {
    const r = await runCli(['ingest', root, '--format', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    const outcome = (suffix: string) => s.results.find((x: { source: string }) => x.source.endsWith(suffix))?.outcome;

    // Samples (32 read; PROVENANCE.md and the draft .txt skipped): 22 reports stored; 5 mails whose
    // attachment was read first as .json.gz are duplicates; the RFC example stored from
    // parsedmarc--rfc8460.json makes the three stalwart rpt01 copies conflicts, and rpt02.json differs
    // from the JSON inside rpt02.eml: 4 conflicts; rpt03.json lacks required totals.
    assert.equal(outcome('1-samples/mox--example.eml'), 'duplicate');
    assert.equal(outcome('1-samples/parsedmarc--rfc8460.json'), 'stored');
    assert.equal(outcome('1-samples/stalwart-mail-auth--rpt01.json'), 'conflict');
    assert.equal(outcome('1-samples/stalwart-mail-auth--rpt02.eml'), 'stored');
    assert.equal(outcome('1-samples/stalwart-mail-auth--rpt02.json'), 'conflict');
    assert.equal(outcome('1-samples/stalwart-mail-auth--rpt03.json'), 'quarantined');
    // mbox (10): the two CRLF mails rewritten with LF are new bytes carrying stored reports; the other 7 are
    // the samples' bytes exactly; the crafted one is new.
    assert.equal(outcome('2-archive.mbox:1'), 'duplicate');
    assert.equal(outcome('2-archive.mbox:2'), 'duplicate');
    for (let i = 3; i <= 9; i++) assert.equal(outcome(`2-archive.mbox:${i}`), 'already-ingested', `mbox message ${i}`);
    assert.equal(outcome('2-archive.mbox:10'), 'stored');
    // Maildir (3): two copies of samples, one new report in new/; tmp/ is not read.
    assert.equal(outcome('1700000000.M1P1.host:2,S'), 'already-ingested');
    assert.equal(outcome('1700000001.M2P1.host:2,S'), 'already-ingested');
    assert.equal(outcome('new/1700000002.M3P1.host'), 'stored');
    assert.equal(outcome('1700000003.M4P1.host'), undefined);

    assert.deepEqual(
      {
        files: s.files,
        messages: s.messages,
        stored: s.stored,
        duplicate: s.duplicate,
        alreadyIngested: s.alreadyIngested,
        duplicateReport: s.duplicateReport,
        conflict: s.conflict,
        quarantined: s.quarantined,
        quarantinedByReason: s.quarantinedByReason,
        pending: s.pending,
        tooLarge: s.tooLarge,
        skipped: s.skipped.map((x: { path: string }) => x.path.slice(root.length + 1)),
      },
      {
        files: 32 + 1 + 3,
        messages: 32 + 10 + 3,
        stored: 22 + 1 + 1,
        duplicate: 5 + 9 + 2,
        alreadyIngested: 7 + 2,
        duplicateReport: 5 + 2,
        conflict: 4,
        quarantined: 1,
        quarantinedByReason: { 'schema-violation': 1 },
        pending: 0,
        tooLarge: 0,
        skipped: ['1-samples/PROVENANCE.md', '1-samples/draft-ietf-uta-smtp-tlsrpt-23--appendix-example.txt'],
      },
    );

    const counts = (
      await db.pool.query(
        `SELECT (SELECT count(*)::int FROM reports) AS reports, (SELECT count(*)::int FROM raw_messages) AS raw,
              (SELECT count(*)::int FROM raw_messages WHERE channel <> 'ingest') AS other_channel,
              (SELECT count(*)::int FROM raw_messages WHERE status = 'pending') AS pending`,
      )
    ).rows[0];
    // Every message but the 9 byte-for-byte repeats is kept as raw mail, each settled.
    assert.deepEqual(counts, { reports: 24, raw: 45 - 9, other_channel: 0, pending: 0 });

    // The mbox message came back exactly as written: ">From" escapes undone, nothing else changed.
    const sha = createHash('sha256').update(mboxCrafted).digest();
    const stored = await db.pool.query(
      `SELECT r.organization_name FROM raw_messages m JOIN reports r ON r.id = m.report_id WHERE m.sha256 = $1`,
      [sha],
    );
    assert.deepEqual(stored.rows, [{ organization_name: 'Mbox Reporter' }]);
  });

  it('adds nothing when run again: every message is a duplicate', async () => {
    const r = await runCli(['ingest', root], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        'Read 45 messages from 36 files:',
        '  stored            0',
        '  duplicate        45  (45 received before byte for byte, 0 a report already stored)',
        '  conflict          0',
        '  quarantined       0',
        'Skipped 2 files:',
        `  ${join(root, '1-samples', 'PROVENANCE.md')}: not mail, an mbox or a report file`,
        `  ${join(root, '1-samples', 'draft-ietf-uta-smtp-tlsrpt-23--appendix-example.txt')}: not mail, an mbox or a report file`,
        '',
      ].join('\n'),
    );
    const counts = (
      await db.pool.query(`SELECT (SELECT count(*)::int FROM reports) AS reports, (SELECT count(*)::int FROM raw_messages) AS raw`)
    ).rows[0];
    assert.deepEqual(counts, { reports: 24, raw: 36 });
  });

  it('refuses a missing path before storing anything, and a database without the stats migration', async () => {
    const missing = await runCli(['ingest', join(root, 'does-not-exist')], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read ".*does-not-exist": no such file or directory/);

    const bare = await createTestDatabase();
    try {
      await bare.pool.query(`DELETE FROM pgmigrations WHERE name = '0002_create_stats_views'`);
      const r = await runCli(['ingest', join(root, '3-Maildir')], { ...env, DATABASE_URL: bare.url });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the database schema is not current \(pending: 0002_create_stats_views\); run "tlsrpt migrate" first/);
      const raw = await bare.pool.query(`SELECT count(*)::int AS n FROM raw_messages`);
      assert.equal(raw.rows[0].n, 0);
    } finally {
      await bare.drop();
    }
  });
});
