/**
 * The workers' daily retention (src/retention/retentionJob.ts): one prune a day however many workers check,
 * one process at a time, and the partitions ahead at every check.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/createLogger.js';
import { startRetentionJob, withRetentionLock } from '../../src/retention/retentionJob.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

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
});
