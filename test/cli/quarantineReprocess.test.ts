/**
 * `tlsrpt quarantine list` and `tlsrpt reprocess`, run as the real command against a real database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/createLogger.js';
import { acceptRawMessage } from '../../src/receive/acceptRawMessage.js';
import { realFixture } from '../helpers/fixtures.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { runCli } from '../helpers/runCli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

describe('quarantine list and reprocess', () => {
  let db: TestDatabase;
  let microsoftId: number;
  let junkId: number;
  // Nothing is queued: the messages are reprocessed by the command under test, not a worker.
  const deps = () => ({ pool: db.pool, enqueue: () => Promise.resolve(), log: createLogger('silent') });

  before(async () => {
    db = await createTestDatabase();
    // A Microsoft report (dates without zone) as an older version, without that fix-up, would have left it.
    microsoftId = await acceptRawMessage(deps(), realFixture('mox--microsoft.eml'), {
      channel: 'smtp',
      mailFrom: 'tlsrpt-noreply@microsoft.com',
    });
    await db.pool.query(
      `UPDATE raw_messages SET status = 'quarantined', reason = 'schema-violation',
         detail = '$["date-range"]["start-datetime"]: "2023-01-10T00:00:00" is not an RFC 3339 date-time' WHERE id = $1`,
      [microsoftId],
    );
    // A message that is still not a report.
    junkId = await acceptRawMessage(deps(), buildReportMail({ report: Buffer.from('{"not": "closed"') }), {
      channel: 'smtp',
      mailFrom: 'someone@example.org',
    });
    await db.pool.query(`UPDATE raw_messages SET status = 'quarantined', reason = 'json-invalid', detail = 'old detail' WHERE id = $1`, [
      junkId,
    ]);
  });
  after(() => db?.drop());

  it('lists quarantined messages with id, sender, reason and detail', async () => {
    const r = await runCli(['quarantine', 'list'], { DATABASE_URL: db.url });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^id\s+received_at\s+channel\s+sender\s+reason\s+detail$/);
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, new RegExp(`^\\s*${junkId}\\s+\\S+\\s+smtp\\s+someone@example.org\\s+json-invalid\\s+old detail$`));
    assert.match(
      lines[2]!,
      new RegExp(`^\\s*${microsoftId}\\s.*tlsrpt-noreply@microsoft.com\\s+schema-violation\\s+\\$\\["date-range"\\]`),
    );
  });

  it('filters by reason and prints JSON for scripts', async () => {
    const r = await runCli(['quarantine', 'list', '--reason', 'json-invalid', '--format', 'json'], { DATABASE_URL: db.url });
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout);
    assert.deepEqual(
      rows.map((x: { id: number; reason: string }) => [x.id, x.reason]),
      [[junkId, 'json-invalid']],
    );
  });

  it('refuses an unknown reason, naming the valid ones', async () => {
    const r = await runCli(['quarantine', 'list', '--reason', 'bogus'], { DATABASE_URL: db.url });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown reason "bogus"; one of: mime-malformed/);
  });

  it('shows one message as text, JSON or CSV', async () => {
    const text = await runCli(['quarantine', 'show', String(junkId)], { DATABASE_URL: db.url });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^id {14}${junkId}\n`));
    assert.match(text.stdout, /\nreason {10}json-invalid\ndetail {10}old detail\n/);
    const json = JSON.parse((await runCli(['quarantine', 'show', String(junkId), '--format', 'json'], { DATABASE_URL: db.url })).stdout);
    assert.equal(json.id, junkId);
    assert.equal(json.reason, 'json-invalid');
    assert.equal(json.mail_from, 'someone@example.org');
    const csv = (await runCli(['quarantine', 'show', String(junkId), '--format', 'csv'], { DATABASE_URL: db.url })).stdout.split('\r\n');
    assert.equal(
      csv[0],
      'id,channel,received_at,remote_address,mail_from,rcpt_to,size_bytes,status,reason,detail,attempts,last_error,report_id,authentication',
    );
    assert.match(csv[1]!, new RegExp(`^${junkId},smtp,\\d{4}-.*,someone@example\\.org,.*,quarantined,json-invalid,old detail,`));
  });

  it('stores what the current parser can read, re-quarantines the rest with the current reason', async () => {
    const r = await runCli(['reprocess'], { DATABASE_URL: db.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /selected: 2/);
    assert.match(r.stdout, /stored: 1/);
    assert.match(r.stdout, /still quarantined, json-invalid: 1/);

    const ms = (await db.pool.query(`SELECT status, report_id FROM raw_messages WHERE id = $1`, [microsoftId])).rows[0];
    assert.equal(ms.status, 'stored');
    const report = (await db.pool.query(`SELECT organization_name, start_at, fixups FROM reports WHERE id = $1`, [ms.report_id])).rows[0];
    assert.equal(report.organization_name, 'Microsoft Corporation');
    assert.equal(report.start_at.toISOString(), '2023-01-10T00:00:00.000Z');
    assert.ok(report.fixups.includes('datetime-without-zone'));

    const junk = (await db.pool.query(`SELECT status, reason, detail FROM raw_messages WHERE id = $1`, [junkId])).rows[0];
    assert.equal(junk.reason, 'json-invalid');
    assert.match(junk.detail, /not valid JSON/);
  });

  it('changes nothing when run again', async () => {
    const json = await runCli(['reprocess', String(microsoftId), '--format', 'json'], { DATABASE_URL: db.url });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { selected: 0, outcomes: {}, stillQuarantined: {}, leftAlone: [microsoftId] });
    const csv = await runCli(['reprocess', String(microsoftId), '--format', 'csv'], { DATABASE_URL: db.url });
    assert.equal(csv.stdout, 'outcome,reason,messages\r\nleft-alone,,1\r\n');

    const before = (await db.pool.query(`SELECT count(*)::int AS n FROM reports`)).rows[0].n;
    const r = await runCli(['reprocess', String(microsoftId)], { DATABASE_URL: db.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /selected: 0/);
    assert.match(r.stdout, new RegExp(`left alone \\(already settled with a report\\): ${microsoftId}`));
    const after = (await db.pool.query(`SELECT count(*)::int AS n FROM reports`)).rows[0].n;
    assert.equal(after, before);
  });
});
