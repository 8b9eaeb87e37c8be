/**
 * Attaching a newly stored report to its alert windows reads its policies from the month partition that
 * holds them only (src/alert/store/windowStore.ts, POLICIES_OF_REPORTS): a year of month partitions exists,
 * and the index scans PostgreSQL counts per partition of policies (pg_stat_user_indexes) show that the other
 * months were pruned, not looked up report by report. On the worker's connection settings (keyedLookups),
 * past the statements' sixth run, when PostgreSQL switches them to a generic plan.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { attachReports } from '../../src/alert/store/windowStore.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { WORKER_POOL } from '../../src/services/workerService.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { storeJsonReports } from '../helpers/storeJsonReports.js';

const TABLES = ['reports', 'policies', 'failure_details'];

function report(n: number): Record<string, unknown> {
  const domain = `d${n % 3}.prune.example`;
  return {
    'organization-name': 'Prune Org',
    'date-range': { 'start-datetime': '2026-03-01T00:00:00Z', 'end-datetime': '2026-03-01T23:59:59Z' },
    'contact-info': 'tlsrpt@prune.example',
    'report-id': `prune-${n}`,
    policies: [
      {
        policy: {
          'policy-type': 'sts',
          'policy-string': ['version: STSv1', 'mode: testing'],
          'policy-domain': domain,
          'mx-host': [`mx.${domain}`],
        },
        // Details without a failed-session total: whether the policy fails is found in failure_details.
        summary: { 'total-successful-session-count': 10, 'total-failure-session-count': 0 },
        'failure-details': [{ 'result-type': 'certificate-expired', 'receiving-mx-hostname': `mx.${domain}`, 'failed-session-count': 1 }],
      },
    ],
  };
}

describe('attaching reports reads their policies from their month partition only', () => {
  let db: TestDatabase;
  let pool: Pool;
  before(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url, { ...WORKER_POOL, max: 1 });
    // A year of past months, as a database in use for a year has.
    await db.pool.query(
      `SELECT create_month_partition(t::regclass, m::date)
       FROM unnest(ARRAY['reports', 'policies', 'failure_details']) AS t,
            generate_series(date_trunc('month', now()) - interval '12 months', now(), interval '1 month') AS m`,
    );
  });
  after(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** Index scans per partition, from the statistics of the test's connection. */
  async function indexScans(): Promise<Map<string, number>> {
    await pool.query('SELECT pg_stat_force_next_flush()');
    const rows = (
      await db.pool.query<{ partition: string; scans: number }>(
        `SELECT i.relname AS partition, sum(i.idx_scan)::int AS scans
         FROM pg_stat_user_indexes i JOIN pg_inherits h ON h.inhrelid = i.relid
         WHERE h.inhparent::regclass::text = ANY($1)
         GROUP BY 1`,
        [TABLES],
      )
    ).rows;
    return new Map(rows.map((r) => [r.partition, r.scans]));
  }

  it('prunes every other month, on a generic plan too', async () => {
    const month = (await db.pool.query<{ m: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM') AS m`)).rows[0]!.m;
    const partitions = (
      await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'policies'::regclass`)
    ).rows[0]!.n;
    assert.ok(partitions >= 13, `a year of months (${partitions})`);

    let n = 0;
    let opened = 0;
    for (let round = 0; round < 8; round++) {
      const jsons = [report(n++), report(n++)];
      assert.deepEqual(await storeJsonReports(pool, jsons), ['stored', 'stored']);
      const ids = (
        await pool.query<{ id: number }>(`SELECT id FROM reports WHERE report_id = ANY($1) ORDER BY id`, [jsons.map((j) => j['report-id'])])
      ).rows.map((r) => r.id);
      const before = await indexScans();
      opened += (await attachReports(pool, ids, 60_000)).length;
      const after = await indexScans();
      for (const [partition, scans] of after) {
        if (partition.endsWith(month)) continue;
        assert.equal(scans - (before.get(partition) ?? 0), 0, `round ${round + 1}: index scans of ${partition}`);
      }
    }
    // The attach did its work: the failing domains got windows, and every report joined one.
    assert.equal(opened, 3);
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM alert_window_reports`)).rows[0].n, 16);
  });
});
