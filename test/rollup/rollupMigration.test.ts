/**
 * Migration 0012 on a database that holds reports stored by the previous release (its triggers kept the
 * per-day totals): afterwards the per-day totals are unchanged, the /metrics totals start from the stored
 * rows, nothing is queued twice, and reports stored after it are folded as usual. Down and up again keeps
 * the figures too (0012's down adds what is still queued, as the triggers it restores would have).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { MIGRATIONS_TABLE, migrate } from '../../src/db/migrate.js';
import { decodeMessage } from '../../src/pipeline/decodeMessage.js';
import { foldRollups } from '../../src/rollup/foldRollups.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { storeReports, type StoreItem } from '../../src/store/storeReport.js';
import { projectPath } from '../../src/util/projectPath.js';
import { craftedStatsSet } from '../helpers/craftedStatsSet.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const AS_OF = '2026-01-15';

async function down(db: TestDatabase, count: number): Promise<void> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await runner({
      dbClient: client,
      dir: projectPath('migrations'),
      migrationsTable: MIGRATIONS_TABLE,
      direction: 'down',
      count,
      checkOrder: true,
      singleTransaction: true,
      log: () => undefined,
    });
  } finally {
    await client.end();
  }
}

async function store(db: TestDatabase, suffix: string): Promise<void> {
  const items: StoreItem[] = [];
  for (const { json } of craftedStatsSet(AS_OF)) {
    const raw = Buffer.from(JSON.stringify({ ...json, 'report-id': `${String(json['report-id'])}${suffix}` }));
    items.push({
      rawMessageId: await insertRawMessage(db.pool, raw, { channel: 'ingest' }),
      decoded: await decodeMessage(raw, { reportMaxBytes: 1 << 20 }),
    });
  }
  for (const r of await storeReports(db.pool, items)) assert.ok(!(r instanceof Error), String(r));
}

const rowsOf = async (db: TestDatabase, sql: string) =>
  (await db.pool.query({ text: sql, rowMode: 'array' })).rows.map((r) => JSON.stringify(r)).sort();

const DAILY = [`SELECT * FROM daily_session_totals`, `SELECT * FROM daily_domain_totals`, `SELECT * FROM daily_failure_totals`];

/** The /metrics totals, and the same from the stored rows. */
const METRICS: Array<[string, string]> = [
  [
    `SELECT policy_domain, policy_type, successful_sessions, failed_sessions, first_report_id FROM metric_session_totals`,
    `SELECT policy_domain, policy_type, sum(total_successful_session_count)::bigint, sum(total_failure_session_count)::bigint, min(report_id)
     FROM policies GROUP BY 1, 2`,
  ],
  [
    `SELECT policy_domain, policy_type, result_type, failed_sessions, first_report_id FROM metric_failure_totals`,
    `SELECT p.policy_domain, p.policy_type, d.result_type, sum(d.failed_session_count)::bigint, min(d.report_id)
     FROM failure_details d JOIN policies p ON p.id = d.policy_id GROUP BY 1, 2, 3`,
  ],
  [`SELECT reports_stored FROM rollup_state`, `SELECT count(*) FROM reports`],
];

describe('migration 0012 over data stored by the previous release', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  it('keeps the per-day totals, starts the /metrics totals from the stored rows, and folds what comes after', async () => {
    await down(db, 1);
    assert.equal((await db.pool.query(`SELECT to_regclass('rollup_queue') AS t`)).rows[0].t, null);
    await store(db, '-old'); // the previous release: its triggers add to the totals in the write
    const daily = await Promise.all(DAILY.map((q) => rowsOf(db, q)));
    assert.ok(daily[0]!.length > 0);

    await migrate(db.url);
    assert.deepEqual(await Promise.all(DAILY.map((q) => rowsOf(db, q))), daily, 'the per-day totals are kept');
    for (const [totals, scratch] of METRICS) assert.deepEqual(await rowsOf(db, totals), await rowsOf(db, scratch), totals);
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM rollup_queue`)).rows[0].n, 0);

    await store(db, '-new');
    await foldRollups(db.pool);
    for (const [totals, scratch] of METRICS) assert.deepEqual(await rowsOf(db, totals), await rowsOf(db, scratch), totals);
    const afterNew = await Promise.all(DAILY.map((q) => rowsOf(db, q)));
    await db.pool.query(`SELECT refresh_daily_totals()`);
    assert.deepEqual(await Promise.all(DAILY.map((q) => rowsOf(db, q))), afterNew, 'equal their recomputation');

    // Down with reports still queued, then up again: the figures stay.
    await store(db, '-queued');
    await down(db, 1);
    const downDaily = await Promise.all(DAILY.map((q) => rowsOf(db, q)));
    await migrate(db.url);
    await db.pool.query(`SELECT refresh_daily_totals()`);
    assert.deepEqual(await Promise.all(DAILY.map((q) => rowsOf(db, q))), downDaily);
  });
});
