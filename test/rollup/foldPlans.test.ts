/**
 * The fold reads what its batch needs, not the months stored so far, even on statistics gathered while the
 * tables were empty: what the retention job's ANALYZE at start-up leaves in a new database
 * (migrations/definitions/20_daily_totals.sql: fold_rollups() plans each batch, by nested loops over its
 * keys). Counted with PostgreSQL's own statistics: the index entries the fold's connection read, batch after
 * batch, as the tables grow.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPool, type Pool } from '../../src/db/pool.js';
import { foldRollups } from '../../src/rollup/foldRollups.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { storeJsonReports } from '../helpers/storeJsonReports.js';

const BATCHES = 10;
const PER_BATCH = 30;

function report(n: number): Record<string, unknown> {
  const domain = `d${n % 7}.plans.example`;
  return {
    'organization-name': `Plans Org ${n % 3}`,
    'date-range': { 'start-datetime': '2026-03-01T00:00:00Z', 'end-datetime': '2026-03-01T23:59:59Z' },
    'contact-info': 'tlsrpt@plans.example',
    'report-id': `plans-${n}`,
    policies: [
      {
        policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: testing'], 'policy-domain': domain },
        summary: { 'total-successful-session-count': 100, 'total-failure-session-count': 5 },
        'failure-details': Array.from({ length: 5 }, (_, k) => ({
          'result-type': 'certificate-expired',
          'receiving-mx-hostname': `mx${k}.${domain}`,
          'failed-session-count': 1,
        })),
      },
    ],
  };
}

describe('the fold on statistics of empty tables', () => {
  let db: TestDatabase;
  let fold: Pool;
  before(async () => {
    db = await createTestDatabase();
    // The rollup job's own connection, as the worker makes it.
    fold = createPool(db.url, { max: 1, applicationName: 'tlsrpt-rollup' });
    await db.pool.query('ANALYZE reports, policies, failure_details');
  });
  after(async () => {
    await fold?.end();
    await db?.drop();
  });

  /** Index entries read so far in the partitions of `tables` (by default reports, policies and failure_details). */
  async function entriesRead(tables = ['reports', 'policies', 'failure_details']): Promise<number> {
    await fold.query('SELECT pg_stat_force_next_flush()');
    const r = await db.pool.query<{ n: number }>(
      `SELECT coalesce(sum(i.idx_tup_read), 0)::int AS n
       FROM pg_stat_user_indexes i JOIN pg_inherits h ON h.inhrelid = i.relid
       WHERE h.inhparent::regclass::text = ANY ($1::text[])`,
      [tables],
    );
    return r.rows[0]!.n;
  }

  it('reads as much for each batch, not more as the tables grow', async () => {
    await foldRollups(fold);
    const perBatch: number[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const jsons = Array.from({ length: PER_BATCH }, (_, i) => report(b * PER_BATCH + i));
      await storeJsonReports(db.pool, jsons);
      const readBefore = await entriesRead();
      assert.equal((await foldRollups(fold)).folded, PER_BATCH);
      perBatch.push((await entriesRead()) - readBefore);
    }
    const reports = BATCHES * PER_BATCH;
    assert.equal((await db.pool.query(`SELECT sum(reports)::int AS n FROM daily_session_totals`)).rows[0].n, reports);
    // A batch's rows (a report, a policy and 5 failure details each) are looked up by key, so every batch
    // reads about as many index entries as the first. A plan that reads the months stored so far reads more
    // at every fold (from 450 to 1,260 entries over these ten batches, before the fix).
    assert.ok(Math.max(...perBatch) <= Math.min(...perBatch) * 1.25, `index entries read per fold: ${perBatch.join(', ')}`);
  });

  it('reads each policy of a batch a few times, not once per failure detail', async () => {
    await foldRollups(fold);
    // 20 reports of one policy with 20 failure details each (the large reports of a real mix have hundreds).
    const jsons = Array.from({ length: 20 }, (_, i) => {
      const r = report(10_000 + i);
      const policy = (r.policies as Array<Record<string, unknown>>)[0]!;
      policy['failure-details'] = Array.from({ length: 20 }, (_, k) => ({
        'result-type': 'certificate-expired',
        'receiving-mx-hostname': `mx${k}.many.example`,
        'failed-session-count': 1,
      }));
      return r;
    });
    await storeJsonReports(db.pool, jsons);
    const readBefore = await entriesRead(['policies']);
    assert.equal((await foldRollups(fold)).folded, 20);
    const read = (await entriesRead(['policies'])) - readBefore;
    // The daily totals and the /metrics totals each read the batch's policies by report. Going from each
    // detail to its policy read 400 more, a cost that grows with the details (and the months) stored.
    assert.ok(read <= 3 * 20, `policy index entries read to fold 20 policies with 400 details: ${read}`);
  });
});
