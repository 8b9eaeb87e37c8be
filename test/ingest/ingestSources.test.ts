/**
 * ingestSources in batches (src/ingest/ingestSources.ts) against a real database: the outcomes are the ones
 * a message-by-message run gave, whatever the batch boundaries, and the progress it reports.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createProgressDisplay, formatDuration, formatProgressLine } from '../../src/cli/ingestCommands.js';
import { ingestSources } from '../../src/ingest/ingestSources.js';
import { createLogger } from '../../src/log/createLogger.js';
import { writeMboxrd } from '../helpers/mbox.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

function reportMail(id: string, org = 'Batch Reporter', successful = 5, day = '2025-03-01'): Buffer {
  const report = {
    'organization-name': org,
    'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
    'contact-info': 'tlsrpt@batch.example',
    'report-id': id,
    policies: [
      {
        policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: testing'], 'policy-domain': 'batch.example' },
        summary: { 'total-successful-session-count': successful, 'total-failure-session-count': 0 },
        'failure-details': [],
      },
    ],
  };
  return buildReportMail({ report, policyDomain: 'batch.example', submitter: 'reports.batch.example', reportId: id });
}

describe('ingestSources in batches', () => {
  let db: TestDatabase;
  let dir: string;
  const deps = () => ({
    pool: db.pool,
    log: createLogger('silent'),
    maxMessageBytes: 64 * 1024,
    reportMaxBytes: 1 << 20,
    maxAttempts: 1,
    maxReportAgeMs: 3 * 86_400_000,
    enqueue: () => Promise.reject(new Error('nothing should be handed to the queue')),
    batchSize: 3,
  });

  before(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'tlsrpt-ingest-batches-'));
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('settles each message as one at a time would, across batch boundaries', async () => {
    const a = reportMail('a');
    const today = new Date().toISOString().slice(0, 10);
    const messages = [
      a, // 1 stored
      a, // 2 the same bytes in the same batch
      reportMail('b'), // 3 stored
      reportMail('b'), // 4 same report, new bytes (another MIME boundary): duplicate
      reportMail('b', 'Batch Reporter', 7), // 5 same identity, other content: conflict (the first in the file is kept)
      Buffer.from(`Subject: large\n\n${'x'.repeat(70 * 1024)}\n`), // 6 over MAX_MESSAGE_SIZE
      a, // 7 the same bytes in a later batch
      Buffer.from('Subject: hello\n\nnot a report\n'), // 8 quarantined
      reportMail('c', 'Batch Reporter', 5, today), // 9 stored, recent: not too old to alert
    ];
    const mbox = join(dir, 'batches.mbox');
    writeFileSync(mbox, writeMboxrd(messages));
    const progress: Array<{ bytesDone: number; messages: number }> = [];
    let bytesTotal = 0;
    const s = await ingestSources(deps(), [{ path: mbox, kind: 'mbox' }], [], {
      onStart: (info) => (bytesTotal = info.bytesTotal),
      onBatchDone: (p) => progress.push(p),
    });
    assert.deepEqual(
      s.results.map((r) => [r.source.slice(mbox.length + 1), r.outcome, r.reason]),
      [
        ['1', 'stored', null],
        ['2', 'already-ingested', null],
        ['3', 'stored', null],
        ['4', 'duplicate', null],
        ['5', 'conflict', null],
        ['6', 'too-large', null],
        ['7', 'already-ingested', null],
        ['8', 'quarantined', 'not-a-tls-report'],
        ['9', 'stored', null],
      ],
    );
    assert.equal(s.results[1]!.rawMessageId, s.results[0]!.rawMessageId);
    assert.equal(s.results[6]!.rawMessageId, s.results[0]!.rawMessageId);
    assert.match(s.results[5]!.detail!, /is more than MAX_MESSAGE_SIZE \(65536 bytes\)/);
    assert.deepEqual(
      { stored: s.stored, duplicate: s.duplicate, conflict: s.conflict, tooLarge: s.tooLarge, tooOldToAlert: s.tooOldToAlert },
      { stored: 3, duplicate: 3, conflict: 1, tooLarge: 1, tooOldToAlert: 2 },
    );
    // One progress report per batch of 3, the last at the end of the file.
    assert.deepEqual(
      progress.map((p) => p.messages),
      [3, 6, 9],
    );
    assert.equal(progress[2]!.bytesDone, bytesTotal);

    const rows = await db.pool.query(`SELECT status, count(*)::int AS n FROM raw_messages GROUP BY 1 ORDER BY 1`);
    assert.deepEqual(rows.rows, [
      { status: 'conflict', n: 1 },
      { status: 'duplicate', n: 1 },
      { status: 'quarantined', n: 1 },
      { status: 'stored', n: 3 },
    ]);
  });

  it('keeps no per-message outcomes unless asked', async () => {
    const file = join(dir, 'one.eml');
    writeFileSync(file, reportMail('d'));
    const s = await ingestSources(deps(), [{ path: file, kind: 'message' }], [], {}, { keepResults: false });
    assert.equal(s.stored, 1);
    assert.deepEqual(s.results, []);
  });

  it('folds what it stores into the daily totals along the way and at the end', async () => {
    const mbox = join(dir, 'fold.mbox');
    // Two days, so that two rows of totals show each report counted once, whichever fold took it.
    const mails = Array.from({ length: 7 }, (_, i) => reportMail(`fold-${i}`, 'Fold Reporter', 2, i % 2 ? '2025-05-02' : '2025-05-01'));
    writeFileSync(mbox, writeMboxrd(mails));
    // Folds of 2 reports (with ANALYZE as the stored reports double) while batches of 3 are stored.
    const s = await ingestSources({ ...deps(), foldBatch: 2 }, [{ path: mbox, kind: 'mbox' }], []);
    assert.equal(s.stored, 7);
    const totals = await db.pool.query(
      `SELECT day::text, sum(reports)::int AS reports, sum(successful_sessions)::int AS ok FROM daily_session_totals
       WHERE organization_name = 'Fold Reporter' GROUP BY day ORDER BY day`,
    );
    assert.deepEqual(totals.rows, [
      { day: '2025-05-01', reports: 4, ok: 8 },
      { day: '2025-05-02', reports: 3, ok: 6 },
    ]);
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM rollup_queue`)).rows[0].n, 0);
  });

  it('prints a progress line every 5 seconds without a terminal, and a last one at the end', () => {
    const lines: string[] = [];
    let clock = 1_000_000;
    const display = createProgressDisplay(
      { err: (s: string) => lines.push(s), io: { stderr: { write: () => true, isTTY: false } } },
      createLogger('silent'),
      {
        bar: false,
        now: () => clock,
      },
    );
    const mb = 2 ** 20;
    display.start(100 * mb);
    clock += 1_000;
    display.update(10 * mb, 1_500); // too soon for a line
    clock += 4_000;
    display.update(25 * mb, 7_500);
    clock += 2_000;
    display.update(30 * mb, 10_500); // 2 s after the last line
    clock += 3_000;
    display.update(50 * mb, 15_000);
    clock += 500;
    display.stop();
    assert.deepEqual(lines, [
      'ingest: 7500 messages (1500/s), 25 of 100 MB read (25%), about 15s left\n',
      'ingest: 15000 messages (1500/s), 50 of 100 MB read (50%), about 10s left\n',
      'ingest: 15000 messages (1429/s), 50 of 100 MB read (50%), about 11s left\n',
    ]);
  });

  it('prints no progress line for a run shorter than 5 seconds', () => {
    const lines: string[] = [];
    let clock = 0;
    const display = createProgressDisplay(
      { err: (s: string) => lines.push(s), io: { stderr: { write: () => true, isTTY: false } } },
      createLogger('silent'),
      {
        bar: false,
        now: () => clock,
      },
    );
    display.start(1_000);
    clock += 4_000;
    display.update(1_000, 10);
    display.stop();
    assert.deepEqual(lines, []);
  });

  it('formats the progress line shown without a terminal', () => {
    assert.equal(
      formatProgressLine({ elapsedMs: 10_000, bytesDone: 512 * 2 ** 20, bytesTotal: 5120 * 2 ** 20, messages: 15_000 }),
      'ingest: 15000 messages (1500/s), 512 of 5120 MB read (10%), about 1m 30s left',
    );
    assert.equal(formatDuration(2 * 3600_000 + 5 * 60_000), '2h 5m');
    assert.equal(formatDuration(4_400), '4s');
  });
});
