/**
 * The rollups are exact (issue 13, decision 1): after reports stored by the application with re-deliveries
 * and conflicts, after a fold killed mid-batch (its PostgreSQL backend terminated while it waits inside the
 * batch) and the worker's rollup job folding what is left, and after reprocessing quarantined messages,
 * the per-day totals and the /metrics totals
 * equal a from-scratch computation over the details, written here independently of the fold's SQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { reprocessMessages } from '../../src/pipeline/reprocessMessages.js';
import { quarantineMessage } from '../../src/store/messageState.js';
import { foldRollups } from '../../src/rollup/foldRollups.js';
import { readRollupLag, rollupLagNotice } from '../../src/rollup/rollupLag.js';
import { startRollupJob } from '../../src/rollup/rollupJob.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { craftedStatsSet } from '../helpers/craftedStatsSet.js';
import { storeJsonReports } from '../helpers/storeJsonReports.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { waitFor } from '../helpers/waitFor.js';

const AS_OF = '2026-01-15';

/** Each pair: the rollup as the views show it, and the same computed from the stored rows. */
const COMPARISONS: Array<[string, string, string]> = [
  [
    'daily_policy_stats',
    `SELECT day, policy_domain, policy_type, organization_name, successful_sessions, failed_sessions, reports FROM daily_policy_stats`,
    `SELECT report_day(r.start_at, r.end_at) AS day, p.policy_domain, p.policy_type, r.organization_name,
            sum(p.total_successful_session_count)::bigint, sum(p.total_failure_session_count)::bigint, count(DISTINCT r.id)
     FROM reports r JOIN policies p ON p.report_id = r.id GROUP BY 1, 2, 3, 4`,
  ],
  [
    'daily_domain_stats',
    `SELECT day, policy_domain, organization_name, successful_sessions, failed_sessions, reports FROM daily_domain_stats`,
    `SELECT day, policy_domain, organization_name, sum(successful_sessions)::bigint, sum(failed_sessions)::bigint, count(*)
     FROM report_domain_sessions GROUP BY 1, 2, 3`,
  ],
  [
    'daily_failure_totals',
    `SELECT day, policy_domain, result_type, failed_sessions FROM daily_failure_totals`,
    `SELECT day, policy_domain, result_type, sum(failed_sessions)::bigint FROM failure_stats GROUP BY 1, 2, 3`,
  ],
  [
    'metric_session_totals',
    `SELECT policy_domain, policy_type, successful_sessions, failed_sessions, first_report_id FROM metric_session_totals`,
    `SELECT policy_domain, policy_type, sum(total_successful_session_count)::bigint, sum(total_failure_session_count)::bigint, min(report_id)
     FROM policies GROUP BY 1, 2`,
  ],
  [
    'metric_failure_totals',
    `SELECT policy_domain, policy_type, result_type, failed_sessions FROM metric_failure_totals`,
    `SELECT p.policy_domain, p.policy_type, d.result_type, sum(d.failed_session_count)::bigint
     FROM failure_details d JOIN policies p ON p.id = d.policy_id GROUP BY 1, 2, 3`,
  ],
  ['reports stored', `SELECT reports_stored FROM rollup_state`, `SELECT count(*) FROM reports`],
];

async function rowsOf(db: pg.ClientBase | TestDatabase['pool'], sql: string): Promise<string[]> {
  const res = await db.query({ text: sql, rowMode: 'array' });
  return res.rows.map((r) => JSON.stringify(r)).sort();
}

async function assertExact(db: TestDatabase, what: string): Promise<void> {
  for (const [name, rollup, scratch] of COMPARISONS) {
    assert.deepEqual(await rowsOf(db.pool, rollup), await rowsOf(db.pool, scratch), `${what}: ${name}`);
  }
}

/** The crafted set with its report-ids suffixed: a new copy of every report, on the same days and domains. */
function copyOfSet(suffix: string): Array<Record<string, unknown>> {
  return craftedStatsSet(AS_OF).map(({ json }) => ({ ...json, 'report-id': `${String(json['report-id'])}${suffix}` }));
}

const queued = async (db: TestDatabase) => (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM rollup_queue`)).rows[0]!.n;

describe('rollups', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  it('count nothing until folded, then every stored report once, re-deliveries and conflicts not again', async () => {
    const first = copyOfSet('-a');
    assert.deepEqual(new Set(await storeJsonReports(db.pool, first)), new Set(['stored']));
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM daily_session_totals`)).rows[0].n, 0, 'off the write path');
    assert.equal(await queued(db), first.length);

    // Re-deliveries, and a different report under an existing identity.
    const changed = structuredClone(first[1]!) as { policies: Array<{ summary: Record<string, number> }> };
    changed.policies[0]!.summary['total-successful-session-count'] = 123456;
    const again = await storeJsonReports(db.pool, [first[0]!, first[5]!, changed as unknown as Record<string, unknown>]);
    assert.deepEqual(again, ['duplicate', 'duplicate', 'conflict']);
    assert.equal(await queued(db), first.length, 'nothing queued for them');

    const folded = await foldRollups(db.pool, { batchReports: 7 });
    assert.deepEqual(folded, { folded: first.length, busy: false });
    assert.equal(await queued(db), 0);
    await assertExact(db, 'after the first fold');
    assert.deepEqual(await foldRollups(db.pool), { folded: 0, busy: false });
    await assertExact(db, 'a fold of an empty queue changes nothing');
  });

  it('lose and double-count nothing when the fold dies mid-batch', async () => {
    await storeJsonReports(db.pool, copyOfSet('-b'));
    const waiting = await queued(db);
    assert.ok(waiting > 0);

    // Hold a lock on every per-day row: the fold blocks inside its batch, after taking the reports off the
    // queue and before adding them, when it reaches the first row it must update.
    const holder = new pg.Client({ connectionString: db.url });
    const folder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await folder.connect();
    folder.on('error', () => {
      // Expected: its backend is terminated below; the rejected query is asserted instead.
    });
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM daily_session_totals FOR UPDATE');
      const pid = (await folder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const dying = folder.query('SELECT fold_rollups(1000000)').then(
        () => assert.fail('the fold should have been killed'),
        (err: unknown) => err,
      );
      await waitFor('the fold to wait inside its batch', async () => {
        const r = await db.pool.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [pid]);
        return r.rows[0]?.wait_event_type === 'Lock';
      });
      // Inside its transaction the queue rows are already deleted; outside, nothing has changed yet.
      assert.equal(await queued(db), waiting);
      await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      const err = (await dying) as { code?: string };
      assert.ok(err instanceof Error, 'the fold failed');
      await holder.query('COMMIT');
    } finally {
      await holder.end();
      await folder.end().catch(() => {
        // Already closed by the terminated backend.
      });
    }
    assert.equal(await queued(db), waiting, 'the killed batch is rolled back whole: every report still queued');

    // Folded again, by the worker's rollup job.
    const job = startRollupJob({ pool: db.pool, log: pino({ level: 'silent' }) }, 50);
    try {
      await waitFor('the rollup job to empty the queue', async () => (await queued(db)) === 0);
    } finally {
      await job.stop();
    }
    await assertExact(db, 'after a killed fold and the job');
  });

  it('count a quarantined message once when it is reprocessed, and a replayed copy of a stored report not again', async () => {
    // Quarantined by an older version that could not read them; one of them repeats a report stored since.
    const fresh = copyOfSet('-c').slice(0, 4);
    const stored = copyOfSet('-a')[2]!;
    const ids: number[] = [];
    for (const json of [...fresh, stored]) {
      const id = await insertRawMessage(db.pool, Buffer.from(JSON.stringify(json)), { channel: 'ingest' });
      await quarantineMessage(db.pool, id, 'schema-violation', 'an older version could not read it');
      ids.push(id);
    }
    const summary = await reprocessMessages({ pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1 }, {});
    assert.deepEqual(summary.outcomes, { stored: 4, duplicate: 1 });
    assert.equal(await queued(db), 4);
    // Again: nothing left to replay, nothing queued.
    await reprocessMessages({ pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1 }, { ids });
    assert.equal(await queued(db), 4);
    await foldRollups(db.pool);
    await assertExact(db, 'after reprocessing');
  });

  it('equal their recomputation by refresh_daily_totals(), and keep their figures when details are deleted', async () => {
    const views = async () => [await rowsOf(db.pool, COMPARISONS[0]![1]), await rowsOf(db.pool, COMPARISONS[1]![1])];
    const before = await views();
    await db.pool.query(`SELECT refresh_daily_totals()`);
    assert.deepEqual(await views(), before);
    await assertExact(db, 'after refresh_daily_totals()');

    // Retention deletes details: the daily views and the readiness verdict keep the figures of those days.
    const readiness = `SELECT * FROM enforce_readiness_for(14, 0.001, 7, 2, '${AS_OF}')`;
    const verdict = await rowsOf(db.pool, readiness);
    await db.pool.query(`UPDATE rollup_state SET details_kept_from = '${AS_OF}'`);
    // (The policies and, by ON DELETE CASCADE, the failure details: reports and raw_messages reference each other.)
    await db.pool.query(`DELETE FROM policies WHERE report_id IN (SELECT id FROM reports WHERE report_day(start_at, end_at) < '${AS_OF}')`);
    const left = await db.pool.query(`SELECT count(*)::int AS n FROM policies p JOIN reports r ON r.id = p.report_id
                                      WHERE report_day(r.start_at, r.end_at) < '${AS_OF}'`);
    assert.equal(left.rows[0].n, 0, 'the details of the days before are gone');
    await db.pool.query(`SELECT refresh_daily_totals()`);
    assert.deepEqual(await views(), before);
    assert.deepEqual(await rowsOf(db.pool, readiness), verdict);
  });

  it('show their lag: 0 when folded, and a line in tlsrpt stats past a minute', async () => {
    assert.deepEqual(await readRollupLag(db.pool), { seconds: 0, waiting: 0 });
    assert.equal(rollupLagNotice({ seconds: 59, waiting: 3 }), null);
    await db.pool.query(`INSERT INTO rollup_queue (report_id, queued_at) VALUES (-1, now() - interval '5 minutes')`);
    const lag = await readRollupLag(db.pool);
    assert.ok(lag.seconds >= 300 && lag.waiting === 1, JSON.stringify(lag));
    assert.match(rollupLagNotice(lag)!, /^Note: the daily totals are 5 minutes behind \(1 report not yet counted\)\. .*tlsrpt worker/);
    // A queued report that was deleted before it was folded is taken off the queue and counts nothing.
    await foldRollups(db.pool);
    assert.equal(await queued(db), 0);
  });
});
