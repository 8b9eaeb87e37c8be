/**
 * The workers' daily retention (src/retention/retentionJob.ts): one prune a day however many workers check,
 * one process at a time, and the partitions ahead at every check.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/createLogger.js';
import { startRetentionJob, withRetentionLock } from '../../src/retention/retentionJob.js';
import { pruneData } from '../../src/retention/pruneData.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { foldRollups, moveToPast, storeSpecs } from './retentionFixtures.js';

const SETTINGS = { rawDays: 30, quarantineDays: 90, reportDays: 400 };

describe('startRetentionJob', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  it('prunes once a day whichever worker checks, and waits its turn while another holds the lock', async () => {
    const log = createLogger('silent');
    // A long interval: the checks below are the test's own.
    const one = startRetentionJob({ databaseUrl: db.url, settings: SETTINGS, log }, 3_600_000);
    const two = startRetentionJob({ databaseUrl: db.url, settings: SETTINGS, log }, 3_600_000);
    try {
      // Each job checks once at start; exactly one of those checks prunes (or both find it done).
      const first = await one.runOnce();
      const second = await two.runOnce();
      const runs = await db.pool.query(`SELECT finished_at FROM retention_runs`);
      assert.equal(runs.rowCount, 1, 'the prune is recorded');
      assert.ok(first === null || second === null, 'the second check finds the prune done');
      assert.equal(await one.runOnce(), null, 'not again within the day');

      // Another process (tlsrpt prune) holds the lock: the check skips rather than waits.
      await db.pool.query(`UPDATE retention_runs SET finished_at = now() - interval '2 days'`);
      const client = await db.pool.connect();
      try {
        const skipped = await withRetentionLock(client, true, () => two.runOnce());
        assert.equal(skipped, null);
      } finally {
        client.release();
      }
      assert.notEqual(await two.runOnce(), null, 'a day after the last prune, the next check prunes');
    } finally {
      await one.stop();
      await two.stop();
    }
  });

  it('a stopping worker cancels the prune in progress instead of waiting for it; the next prune finishes it', async () => {
    await db.pool.query(`TRUNCATE retention_runs`);
    const month = new Date(Date.UTC(new Date().getUTCFullYear() - 2, 1, 10)).toISOString();
    const [old] = await storeSpecs(db.pool, [
      { org: 'Old', reportId: 'stop-old', day: month.slice(0, 10), domain: 'a.example', ok: 1, failures: {} },
    ]);
    await moveToPast(db.pool, [old!.reportId], [old!.rawMessageId], month);
    await foldRollups(db.pool);
    const partition = `reports_${month.slice(0, 7).replace('-', '_')}`;

    // A reader in a long transaction (a backup, say): the month's DETACH ... CONCURRENTLY waits for it, as a
    // prune's statement may last (its paced ANALYZE takes a minute with a year stored).
    const reader = await db.pool.connect();
    try {
      await reader.query(`BEGIN ISOLATION LEVEL REPEATABLE READ`);
      await reader.query(`SELECT count(*) FROM reports`);
      const job = startRetentionJob({ databaseUrl: db.url, settings: SETTINGS, log: createLogger('silent') }, 3_600_000);
      for (let i = 0; ; i++) {
        const waiting = await db.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'tlsrpt-retention' AND query LIKE '%DETACH%' AND wait_event_type = 'Lock'`,
        );
        if (waiting.rowCount) break;
        if (i > 200) throw new Error('the prune never reached its detach');
        await new Promise((r) => setTimeout(r, 50));
      }
      const t0 = Date.now();
      const stopped = await Promise.race([job.stop().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000))]);
      assert.ok(stopped, 'stop() returned while the reader still held its snapshot');
      assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
      assert.equal(
        (await db.pool.query(`SELECT count(*)::int AS n FROM retention_runs`)).rows[0].n,
        0,
        'an interrupted prune is not recorded',
      );
    } finally {
      await reader.query('ROLLBACK');
      reader.release();
    }
    // The next prune finishes the month the stop interrupted.
    const client = await db.pool.connect();
    try {
      const summary = await withRetentionLock(client, true, () => pruneData(client, SETTINGS));
      assert.ok(summary);
    } finally {
      client.release();
    }
    assert.equal((await db.pool.query(`SELECT to_regclass($1) AS t`, [partition])).rows[0].t, null, `${partition} dropped`);
  });
});
