/**
 * Storing a batch and attaching it to alert windows look rows up by key, never by reading whole tables,
 * even in a new database whose tables were never analyzed: a sequential scan there grows with every report
 * stored (migration 0006, keyedLookups on the worker's pool and the attach transaction). Counted with PostgreSQL's own statistics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPool, type Pool } from '../../src/db/pool.js';
import { attachReports } from '../../src/alert/store/windowStore.js';
import { WORKER_POOL } from '../../src/services/workerService.js';
import { decodeMessage } from '../../src/pipeline/decodeMessage.js';
import { insertRawMessage, insertRawMessages } from '../../src/store/rawMessages.js';
import { foldRollups } from '../../src/rollup/foldRollups.js';
import { storeReports, type StoreItem } from '../../src/store/storeReport.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const TABLES = ['raw_messages', 'reports', 'policies', 'failure_details', 'alert_windows', 'alert_window_reports'];

function mail(n: number): Buffer {
  const domain = `d${n % 5}.example`;
  const report = {
    'organization-name': 'Keyed Org',
    'date-range': { 'start-datetime': '2026-03-01T00:00:00Z', 'end-datetime': '2026-03-01T23:59:59Z' },
    'contact-info': 'tlsrpt@keyed.example',
    'report-id': `keyed-${n}`,
    policies: [
      {
        policy: {
          'policy-type': 'sts',
          'policy-string': ['version: STSv1', 'mode: testing'],
          'policy-domain': domain,
          'mx-host': [`mx.${domain}`],
        },
        summary: { 'total-successful-session-count': 10, 'total-failure-session-count': n % 2 },
        'failure-details':
          n % 2
            ? [
                {
                  'result-type': 'certificate-expired',
                  'sending-mta-ip': '198.51.100.1',
                  'receiving-ip': '192.0.2.1',
                  'receiving-mx-hostname': `mx.${domain}`,
                  'failed-session-count': 1,
                },
              ]
            : [],
      },
    ],
  };
  return buildReportMail({
    report,
    policyDomain: domain,
    submitter: 'keyed.example',
    reportId: `keyed-${n}`,
    filename: `keyed.example!${domain}!1772323200!1772409599!keyed-${n}.json.gz`,
  });
}

describe('storing and attaching in a new database', () => {
  let db: TestDatabase;
  let pool: Pool;
  before(async () => {
    db = await createTestDatabase();
    // The worker's connection settings, on one connection: the statements' cached plans are made on it,
    // and its statistics are flushed from it.
    pool = createPool(db.url, { ...WORKER_POOL, max: 1 });
  });
  after(async () => {
    await pool?.end();
    await db?.drop();
  });

  async function seqScans(): Promise<Record<string, number>> {
    await pool.query('SELECT pg_stat_force_next_flush()');
    const rows = (
      await db.pool.query<{ relname: string; n: number }>(
        `SELECT relname, seq_scan::int AS n FROM pg_stat_user_tables WHERE relname = ANY($1)`,
        [TABLES],
      )
    ).rows;
    return Object.fromEntries(rows.map((r) => [r.relname, r.n]));
  }

  it('reads no table whole, batch after batch, as the tables grow', async () => {
    const batches: StoreItem[][] = [];
    for (let b = 0; b < 8; b++) {
      const items: StoreItem[] = [];
      for (let i = 0; i < 8; i++) {
        const bytes = mail(b * 8 + i);
        items.push({
          rawMessageId: await insertRawMessage(db.pool, bytes, { channel: 'ingest' }),
          decoded: await decodeMessage(bytes, { reportMaxBytes: 1 << 20 }),
        });
      }
      batches.push(items);
    }
    const before = await seqScans();
    let stored = 0;
    for (const items of batches) {
      const results = await storeReports(pool, items);
      const ids = results.map((r) => {
        if (r instanceof Error) throw r;
        assert.equal(r.outcome, 'stored');
        return r.reportId;
      });
      stored += ids.length;
      await attachReports(pool, ids, 60_000);
      // The worker's rollup job folds them in (src/rollup/), on a worker connection too.
      await foldRollups(pool);
    }
    assert.equal(stored, 64);
    // The work was done: the rollups were folded and failing domains got windows.
    assert.equal((await db.pool.query(`SELECT sum(reports)::int AS n FROM daily_session_totals`)).rows[0].n, 64);
    // All but keyed-4: it has no failure and came before any window of its domain (d4) was open.
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM alert_window_reports`)).rows[0].n, 63);
    const after = await seqScans();
    for (const t of TABLES) assert.equal((after[t] ?? 0) - (before[t] ?? 0), 0, `sequential scans of ${t}`);
  });

  /** Index entries of raw_messages read so far (every index of the table). */
  async function rawEntriesRead(): Promise<number> {
    await pool.query('SELECT pg_stat_force_next_flush()');
    const r = await db.pool.query<{ n: number }>(
      `SELECT coalesce(sum(idx_tup_read), 0)::int AS n FROM pg_stat_user_indexes WHERE relname = 'raw_messages'`,
    );
    return r.rows[0]!.n;
  }

  /**
   * A backlog: 2,000 messages waiting (a Redis outage, a burst), and batches of 8 of them stored. analyzed:
   * whether raw_messages' statistics saw the backlog, or predate it (autovacuum analyzed the table while it
   * held no pending message, as in a new database or after a quiet night).
   */
  async function storeFromBacklog(analyzed: 'with the backlog' | 'before the backlog', first: number): Promise<void> {
    if (analyzed === 'before the backlog') await db.pool.query('ANALYZE raw_messages');
    const backlog = Buffer.from('{}');
    for (let i = 0; i < 20; i++) {
      await insertRawMessages(
        db.pool,
        Array.from({ length: 100 }, () => ({ raw: backlog, envelope: { channel: 'ingest' as const } })),
      );
    }
    if (analyzed === 'with the backlog') await db.pool.query('ANALYZE raw_messages');
    for (let b = 0; b < 4; b++) {
      const items: StoreItem[] = [];
      for (let i = 0; i < 8; i++) {
        const bytes = mail(first + b * 8 + i);
        items.push({
          rawMessageId: await insertRawMessage(db.pool, bytes, { channel: 'ingest' }),
          decoded: await decodeMessage(bytes, { reportMaxBytes: 1 << 20 }),
        });
      }
      const readBefore = await rawEntriesRead();
      for (const r of await storeReports(pool, items)) assert.ok(!(r instanceof Error) && r.outcome === 'stored', String(r));
      // Each message of the batch is looked up by key to be locked, then to be settled: a few entries each.
      // Reading the pending ones to find the batch's read 2,000 and more for every batch, so that a worker
      // slowed down as its backlog grew (0.2 ms of PostgreSQL CPU per report with 2,800 pending; 1.1 ms with
      // 4,000 when the statistics predated them, in the scale bench).
      const read = (await rawEntriesRead()) - readBefore;
      assert.ok(read <= 4 * items.length, `raw_messages index entries read to store 8 reports: ${read}`);
    }
    // The backlog is done with: the next case starts without it.
    await db.pool.query(`UPDATE raw_messages SET status = 'stored' WHERE status = 'pending'`);
  }

  it('reads the raw messages of its batch, not every pending one', async () => {
    await storeFromBacklog('with the backlog', 1000);
  });

  it('reads the raw messages of its batch when the statistics predate the backlog', async () => {
    await storeFromBacklog('before the backlog', 2000);
  });
});
