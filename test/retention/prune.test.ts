/**
 * Retention against a real database (src/retention/pruneData.ts, README "Retention"): the daily views and
 * the readiness verdict are identical before and after the months holding their details are dropped; what
 * each setting removes, and what it keeps (pending messages, recent rows, the identities); a report
 * delivered again after its month was pruned is still a duplicate and is not counted twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PoolClient } from '../../src/db/pool.js';
import { ensurePartitions } from '../../src/retention/ensurePartitions.js';
import { pruneData, type PruneOptions, type PruneSummary } from '../../src/retention/pruneData.js';
import type { RetentionSettings } from '../../src/retention/retentionPlan.js';
import { quarantineMessage } from '../../src/store/messageState.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { runCli } from '../helpers/runCli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { foldRollups, moveToPast, rowsOf, storeSpecs, type ReportSpec } from './retentionFixtures.js';

const DEFAULTS: RetentionSettings = { rawDays: 30, quarantineDays: 90, reportDays: 400 };
const DAY_MS = 86_400_000;

function ago(days: number): string {
  return new Date(Date.now() - days * DAY_MS).toISOString();
}

/** Two years back: a month every default setting prunes. */
const OLD_MONTH = new Date(Date.UTC(new Date().getUTCFullYear() - 2, 5, 15)).toISOString();
const OLD_KEY = OLD_MONTH.slice(0, 7);
const OLD_SUFFIX = OLD_KEY.replace('-', '_');

/** Old reports: three days of June two years ago, two reporters, two domains, failures of two types. */
function oldSpecs(): ReportSpec[] {
  const year = new Date().getUTCFullYear() - 2;
  const specs: ReportSpec[] = [];
  for (const d of [10, 11, 12]) {
    const day = `${year}-06-${d}`;
    for (const org of ['Google Inc.', 'Microsoft Corporation']) {
      for (const domain of ['a.example', 'b.example']) {
        specs.push({
          org,
          reportId: `${org}-${domain}-${day}`,
          day,
          domain,
          ok: 1000 + d,
          failures: domain === 'a.example' ? { 'certificate-expired': d, 'starttls-not-supported': 1 } : {},
          mode: 'testing',
        });
      }
    }
  }
  return specs;
}

describe('pruneData', () => {
  let db: TestDatabase;
  let client: PoolClient;
  let oldReports: Array<{ rawMessageId: number; reportId: number }>;
  let recentReport: { rawMessageId: number; reportId: number };
  const ids: Record<string, number> = {};

  const prune = (settings: RetentionSettings = DEFAULTS, options: PruneOptions = {}): Promise<PruneSummary> =>
    pruneData(client, settings, { batchSize: 3, ...options });

  async function status(id: number): Promise<{ status: string; has_raw: boolean } | undefined> {
    return (await db.pool.query(`SELECT status, raw IS NOT NULL AS has_raw FROM raw_messages WHERE id = $1`, [id])).rows[0];
  }

  const year = new Date().getUTCFullYear() - 2;
  const views = async () => ({
    policy: await rowsOf(db.pool, `SELECT * FROM daily_policy_stats WHERE day < $1`, [`${year + 1}-01-01`]),
    domain: await rowsOf(db.pool, `SELECT * FROM daily_domain_stats WHERE day < $1`, [`${year + 1}-01-01`]),
    readiness: await rowsOf(db.pool, `SELECT * FROM enforce_readiness_for(14, 0.01, 2, 2, $1)`, [`${year}-06-20`]),
  });

  before(async () => {
    db = await createTestDatabase();
    client = await db.pool.connect();
    oldReports = await storeSpecs(db.pool, oldSpecs());
    await moveToPast(
      db.pool,
      oldReports.map((r) => r.reportId),
      oldReports.map((r) => r.rawMessageId),
      OLD_MONTH,
    );
    // Messages of every age and state, received in id order as in life.
    const settled60 = (
      await storeSpecs(db.pool, [
        { org: 'Mail.ru', reportId: 'sixty', day: ago(60).slice(0, 10), domain: 'c.example', ok: 1, failures: {} },
      ])
    )[0]!;
    await db.pool.query(`UPDATE raw_messages SET received_at = $2 WHERE id = $1`, [settled60.rawMessageId, ago(60)]);
    recentReport = (
      await storeSpecs(db.pool, [
        {
          org: 'Google Inc.',
          reportId: 'recent',
          day: ago(2).slice(0, 10),
          domain: 'a.example',
          ok: 5,
          failures: { 'validation-failure': 1 },
        },
      ])
    )[0]!;
    ids.settled60 = settled60.rawMessageId;
    ids.settled10 = recentReport.rawMessageId;
    for (const [name, days] of [
      ['quarantined200', 200],
      ['quarantined10', 10],
    ] as const) {
      ids[name] = await insertRawMessage(db.pool, Buffer.from('not a report'), { channel: 'smtp' });
      await quarantineMessage(db.pool, ids[name], 'not-a-tls-report', 'test');
      await db.pool.query(`UPDATE raw_messages SET received_at = $2 WHERE id = $1`, [ids[name], ago(days)]);
    }
    ids.pending900 = await insertRawMessage(db.pool, Buffer.from('still waiting'), { channel: 'smtp' });
    await db.pool.query(`UPDATE raw_messages SET received_at = $2 WHERE id = $1`, [ids.pending900, ago(900)]);
    await foldRollups(db.pool);
  });
  after(async () => {
    client?.release();
    await db?.drop();
  });

  it('a dry run counts what would go and changes nothing', async () => {
    const before = await rowsOf(db.pool, `SELECT id, status, raw IS NOT NULL AS has_raw FROM raw_messages`);
    const summary = await prune(DEFAULTS, { dryRun: true });
    assert.equal(summary.dryRun, true);
    assert.equal(summary.rawBytes.messages, oldReports.length + 1, 'the settled messages of 60 days and two years ago');
    assert.equal(summary.quarantined.messages, 1, 'the quarantined message of 200 days ago');
    assert.equal(summary.messageRows.messages, oldReports.length, 'the messages of the old reports');
    assert.deepEqual(
      summary.months.map((m) => [m.month, m.reports, m.partitions.sort()]),
      [[OLD_KEY, oldReports.length, [`failure_details_${OLD_SUFFIX}`, `policies_${OLD_SUFFIX}`, `reports_${OLD_SUFFIX}`]]],
    );
    assert.ok(summary.months[0]!.bytes > 0);
    assert.deepEqual(await rowsOf(db.pool, `SELECT id, status, raw IS NOT NULL AS has_raw FROM raw_messages`), before);
    assert.ok((await db.pool.query(`SELECT to_regclass($1) AS t`, [`reports_${OLD_SUFFIX}`])).rows[0].t);
  });

  it('drops the old months and keeps the daily views and the readiness verdict of those days identical', async () => {
    const before = await views();
    assert.equal(before.policy.length, 12, 'three days, two domains, two reporters');
    assert.ok(before.readiness.length === 2);
    const detailsBefore = await rowsOf(db.pool, `SELECT * FROM failure_stats WHERE day < $1`, [`${year + 1}-01-01`]);
    assert.ok(detailsBefore.length > 0);

    // An alert window covering an old report and the recent one: the old report's row goes with its month.
    const window = await db.pool.query(`INSERT INTO alert_windows (policy_domain, closes_at) VALUES ('a.example', now()) RETURNING id`);
    await db.pool.query(
      `INSERT INTO alert_window_reports (report_id, policy_domain, window_id) VALUES ($1, 'a.example', $3), ($2, 'a.example', $3)`,
      [oldReports[0]!.reportId, recentReport.reportId, window.rows[0].id],
    );

    const summary = await prune();
    assert.deepEqual(
      summary.months.map((m) => m.month),
      [OLD_KEY],
    );
    const covered = await db.pool.query(`SELECT report_id FROM alert_window_reports`);
    assert.deepEqual(
      covered.rows.map((r) => r.report_id),
      [recentReport.reportId],
    );
    for (const t of ['reports', 'policies', 'failure_details']) {
      assert.equal(
        (await db.pool.query(`SELECT to_regclass($1) AS t`, [`${t}_${OLD_SUFFIX}`])).rows[0].t,
        null,
        `${t} of ${OLD_KEY} dropped`,
      );
    }
    assert.deepEqual(await views(), before, 'daily_policy_stats, daily_domain_stats and enforce_readiness_for are unchanged');
    // The prune recorded the first day whose details are all kept: recomputing the totals (a rule changed,
    // an administrator's refresh) leaves the pruned days as they were instead of emptying them.
    const kept = (await db.pool.query(`SELECT details_kept_from::text AS d FROM rollup_state`)).rows[0].d;
    assert.equal(kept, `${year}-06-13`, 'the day after the last pruned report');
    await db.pool.query(`SELECT refresh_daily_totals()`);
    assert.deepEqual(await views(), before, 'refresh_daily_totals() after the prune');
    // The views that list single reports and failures need the details: those days are gone from them.
    assert.deepEqual(await rowsOf(db.pool, `SELECT * FROM failure_stats WHERE day < $1`, [`${year + 1}-01-01`]), []);
    assert.deepEqual(await rowsOf(db.pool, `SELECT * FROM report_domain_sessions WHERE day < $1`, [`${year + 1}-01-01`]), []);
    // The recent report is untouched, and so are the identities of the pruned ones.
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM reports WHERE id = $1`, [recentReport.reportId])).rows[0].n, 1);
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM report_identities`)).rows[0].n, oldReports.length + 2);
  });

  it('removes raw bytes, quarantined and old message rows by their settings, and never a pending message', async () => {
    assert.deepEqual(await status(ids.settled60!), { status: 'stored', has_raw: false }, 'bytes gone after 30 days, row kept');
    assert.deepEqual(await status(ids.settled10!), { status: 'stored', has_raw: true });
    assert.equal(await status(ids.quarantined200!), undefined, 'quarantined for 200 days: removed');
    assert.deepEqual(await status(ids.quarantined10!), { status: 'quarantined', has_raw: true });
    assert.deepEqual(await status(ids.pending900!), { status: 'pending', has_raw: true }, 'pending is never pruned');
    for (const r of oldReports) assert.equal(await status(r.rawMessageId), undefined, 'settled and older than 400 days: row removed');
    const run = (await db.pool.query(`SELECT summary FROM retention_runs`)).rows[0];
    assert.equal(run.summary.months[0].month, OLD_KEY, 'the run is recorded for the daily check');
  });

  it('a report delivered again after its month was pruned is a duplicate, not counted again', async () => {
    const before = await views();
    const [again] = await storeSpecs(db.pool, [oldSpecs()[0]!]);
    assert.equal(again!.outcome, 'duplicate');
    assert.equal(again!.reportId, oldReports[0]!.reportId);
    await foldRollups(db.pool);
    assert.deepEqual(await views(), before);
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM reports`)).rows[0].n, 2);
  });

  it('running again removes nothing; 0 keeps a kind forever', async () => {
    const again = await prune();
    assert.deepEqual([again.rawBytes.messages, again.quarantined.messages, again.messageRows.messages, again.months.length], [0, 0, 0, 0]);
    const keepAll = await prune({ rawDays: 0, quarantineDays: 0, reportDays: 0 }, { dryRun: true });
    assert.deepEqual(keepAll.cutoffs, { raw: null, quarantine: null, reports: null });
    assert.deepEqual(
      [keepAll.rawBytes.messages, keepAll.quarantined.messages, keepAll.messageRows.messages, keepAll.months.length],
      [0, 0, 0, 0],
    );
  });

  it('finishes a drop that an interrupted prune left half done', async () => {
    const month = new Date(Date.UTC(year - 1, 2, 10)).toISOString();
    const [r] = await storeSpecs(db.pool, [
      { org: 'Old', reportId: 'interrupted', day: month.slice(0, 10), domain: 'd.example', ok: 1, failures: {} },
    ]);
    await moveToPast(db.pool, [r!.reportId], [r!.rawMessageId], month);
    await foldRollups(db.pool);
    const suffix = month.slice(0, 7).replace('-', '_');
    // Stopped after the detach of reports, before its DROP: a plain table of that name is left.
    await db.pool.query(`ALTER TABLE reports DETACH PARTITION reports_${suffix}`);
    const summary = await prune();
    assert.deepEqual(
      summary.months.map((m) => m.partitions.sort()),
      [[`failure_details_${suffix}`, `policies_${suffix}`]],
    );
    assert.equal((await db.pool.query(`SELECT to_regclass($1) AS t`, [`reports_${suffix}`])).rows[0].t, null);
  });
});

describe('ensurePartitions', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  it('creates this month and the two after it for each table, once', async () => {
    const created = await ensurePartitions(db.pool, new Date('2031-01-15T12:00:00Z'));
    assert.deepEqual(created.sort(), [
      'failure_details_2031_01',
      'failure_details_2031_02',
      'failure_details_2031_03',
      'policies_2031_01',
      'policies_2031_02',
      'policies_2031_03',
      'reports_2031_01',
      'reports_2031_02',
      'reports_2031_03',
    ]);
    assert.deepEqual(await ensurePartitions(db.pool, new Date('2031-01-15T12:00:00Z')), []);
    const bounds = await db.pool.query(`SELECT pg_get_expr(relpartbound, oid) AS b FROM pg_class WHERE relname = 'reports_2031_02'`);
    assert.equal(bounds.rows[0].b, "FOR VALUES FROM ('2031-02-01 00:00:00+00') TO ('2031-03-01 00:00:00+00')");
  });
});

describe('pruneData on a database with nothing stored', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  it('gathers no statistics of empty tables, which plans would be made on until the next day, and paces those it gathers', async () => {
    const reltuples = async () =>
      Number((await db.pool.query(`SELECT reltuples FROM pg_class WHERE oid = 'reports'::regclass`)).rows[0].reltuples);
    const client = await db.pool.connect();
    try {
      await pruneData(client, DEFAULTS);
      assert.equal(await reltuples(), -1, 'never analyzed');
      await storeSpecs(db.pool, [
        { org: 'g', reportId: 'stats-1', day: '2030-01-02', domain: 'a.example', ok: 5, failures: {}, mode: 'testing' },
      ]);
      const progress: string[] = [];
      await pruneData(client, DEFAULTS, { progress: (m) => progress.push(m) });
      assert.equal(await reltuples(), 1);
      assert.ok(
        progress.some((m) => m.startsWith('updating the planner statistics')),
        progress.join('\n'),
      );
      // The ANALYZE was paced like autovacuum (src/retention/pruneData.ts); the connection goes back to the
      // pool unpaced, or every VACUUM made on it later would crawl.
      assert.equal((await client.query(`SHOW vacuum_cost_delay`)).rows[0].vacuum_cost_delay, '0');
      assert.equal((await client.query(`SHOW vacuum_cost_limit`)).rows[0].vacuum_cost_limit, '200');
    } finally {
      client.release();
    }
  });
});

describe('tlsrpt prune', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  it('--dry-run prints what would go; without it, removes it', async () => {
    const id = await insertRawMessage(db.pool, Buffer.from('x'), { channel: 'smtp' });
    await quarantineMessage(db.pool, id, 'not-a-tls-report', 'test');
    await db.pool.query(`UPDATE raw_messages SET received_at = $2 WHERE id = $1`, [id, ago(100)]);
    const env = { DATABASE_URL: db.url };
    const dry = await runCli(['prune', '--dry-run', '--format', 'json'], env);
    assert.equal(dry.code, 0, dry.stderr);
    const summary = JSON.parse(dry.stdout);
    assert.equal(summary.dryRun, true);
    assert.equal(summary.quarantined.messages, 1);
    const table = await runCli(['prune'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^Removed:\n/);
    assert.match(table.stdout, /quarantined messages\s+\S+\s+1\s+1\s+row and bytes/);
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM raw_messages`)).rows[0].n, 0);
    const kept = await runCli(['prune', '--dry-run'], { ...env, RETENTION_QUARANTINE_DAYS: '0' });
    assert.match(kept.stdout, /^Would remove \(dry run, nothing was changed\):/);
    assert.match(kept.stdout, /kept \(RETENTION_QUARANTINE_DAYS=0\)/);
  });
});

describe('pruning does not stall ingestion', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  it('while a month waits to be detached behind a long query, reports are still stored', async () => {
    const month = new Date(Date.UTC(new Date().getUTCFullYear() - 2, 1, 10)).toISOString();
    const [old] = await storeSpecs(db.pool, [
      { org: 'Old', reportId: 'old', day: month.slice(0, 10), domain: 'a.example', ok: 1, failures: {} },
    ]);
    await moveToPast(db.pool, [old!.reportId], [old!.rawMessageId], month);
    await foldRollups(db.pool);

    // A reader in the middle of a long transaction over every month (a dashboard, a backup).
    const reader = await db.pool.connect();
    const pruner = await db.pool.connect();
    try {
      await reader.query(`BEGIN ISOLATION LEVEL REPEATABLE READ`);
      await reader.query(`SELECT count(*) FROM reports`);
      const pid = (await pruner.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).rows[0]!.pid;
      const pruning = pruneData(pruner, DEFAULTS);
      // The detach waits for the reader ...
      for (let i = 0; ; i++) {
        const waiting = await db.pool.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%DETACH%'`, [pid]);
        if (waiting.rows[0]?.wait_event_type === 'Lock') break;
        if (i > 200) throw new Error('the prune never reached its detach');
        await new Promise((r) => setTimeout(r, 50));
      }
      // ... and meanwhile the worker's statement stores a report in this month's partition, at once.
      const t0 = Date.now();
      const [stored] = await storeSpecs(db.pool, [
        { org: 'New', reportId: 'during-prune', day: ago(1).slice(0, 10), domain: 'a.example', ok: 2, failures: {} },
      ]);
      assert.equal(stored!.outcome, 'stored');
      assert.ok(Date.now() - t0 < 5000, `stored in ${Date.now() - t0} ms while the detach waited`);
      await reader.query('COMMIT');
      const summary = await pruning;
      assert.equal(summary.months.length, 1);
    } finally {
      // After the COMMIT above this is a no-op (PostgreSQL warns, no error); after a failure it ends the reader's transaction.
      await reader.query('ROLLBACK');
      reader.release();
      pruner.release();
    }
  });
});
