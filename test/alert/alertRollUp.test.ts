/**
 * The alert's status is rolled up from its deliveries after every attempt. Deliveries of one alert
 * finishing at the same moment must not each see the other as unfinished (issue 15 part 3: after a burst,
 * 49 of 103 alerts stayed `pending` although all their deliveries were `delivered`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AlertDestinationConfig } from '../../src/config/alertConfig.js';
import { insertAlert, recordAttempt } from '../../src/alert/store/alertStore.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { loadFactor } from '../helpers/waitFor.js';

const DESTINATIONS: AlertDestinationConfig[] = ['a', 'b', 'c'].map((n) => ({
  kind: 'webhook',
  key: `webhook:https://hooks.example/${n}`,
  target: `https://hooks.example/${n}`,
  url: `https://hooks.example/${n}`,
}));

async function insertAlerts(pool: Pool, n: number, tag: string): Promise<number[]> {
  const deliveryIds: number[] = [];
  for (let i = 0; i < n; i++) {
    const inserted = await insertAlert(pool, {
      dedupeKey: `${tag}-${i}`,
      content: { kind: 'test', severity: 'warning', policyDomain: 'example.com', sentAt: new Date().toISOString() },
      destinations: DESTINATIONS,
    });
    assert.ok(inserted);
    deliveryIds.push(...inserted.deliveryIds);
  }
  return deliveryIds;
}

describe('alert status roll-up under concurrency', () => {
  let db: TestDatabase;
  let pool: Pool;
  before(async () => {
    db = await createTestDatabase();
    // Enough connections that the deliveries of one alert really commit at the same time; thirty connections
    // opened at once take longer than the service's 5 s connect limit on a loaded machine.
    pool = createPool(db.url, { max: 30, connectionTimeoutMillis: Math.round(5000 * loadFactor()) });
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  it('200 alerts whose deliveries all finish in parallel all end delivered', async () => {
    const ids = await insertAlerts(pool, 200, 'burst');
    await Promise.all(ids.map((id) => recordAttempt(pool, id, { durationMs: 5, ok: true, response: 'HTTP 200', settle: 'delivered' })));
    const statuses = await pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM alerts WHERE dedupe_key LIKE 'burst-%' GROUP BY status`,
    );
    assert.deepEqual(statuses.rows, [{ status: 'delivered', n: 200 }]);
  });

  it('a mix finishing in parallel rolls up to partly-delivered, and the last error is kept', async () => {
    const ids = await insertAlerts(pool, 50, 'mix');
    await Promise.all(
      ids.map((id, i) =>
        i % 3 === 0
          ? recordAttempt(pool, id, { durationMs: 5, ok: false, errorCode: 'http-status', error: 'HTTP 404', settle: 'failed' })
          : recordAttempt(pool, id, { durationMs: 5, ok: true, response: 'HTTP 200', settle: 'delivered' }),
      ),
    );
    const statuses = await pool.query<{ status: string; last_error: string | null }>(
      `SELECT DISTINCT status, last_error FROM alerts WHERE dedupe_key LIKE 'mix-%'`,
    );
    assert.deepEqual(statuses.rows, [{ status: 'partly-delivered', last_error: 'http-status: HTTP 404' }]);
  });
});
