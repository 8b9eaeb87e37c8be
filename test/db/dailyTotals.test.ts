/**
 * The per-day totals of migrations/0004 (daily_session_totals, daily_domain_totals, daily_failure_totals),
 * kept by the rollup fold since migrations/0012 (fold_rollups(), which every assertion below runs first, as
 * the worker's rollup job does). After every kind of write, each table must equal a recomputation from the core tables
 * with the definitions of migrations/0002 (report_domain_sessions, which 0004 leaves as it was), and the
 * readiness verdict must equal 0002's enforce_readiness_for, created here under another name.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { processMessage } from '../../src/pipeline/processMessage.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { projectPath } from '../../src/util/projectPath.js';
import { craftedStatsSet } from '../helpers/craftedStatsSet.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { createRandom } from '../helpers/random.js';
import { MIGRATION_FILES, migrationsFrom, runMigrationSteps } from '../helpers/runMigrationSteps.js';
import { storeJsonReports } from '../helpers/storeJsonReports.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

interface Detail {
  type: string;
  n: number;
}

interface PolicyInput {
  type: string;
  domain: string | null;
  strings?: string[];
  ok: number;
  failed: number;
  details?: Detail[];
}

interface ReportInput {
  org: string;
  id: string;
  start: string;
  end: string;
  policies: PolicyInput[];
}

// Several reports, their policies and failure details in ONE statement of data-modifying CTEs, the shape
// src/store/storeReport.ts is moving to. An identity already stored is skipped (ON CONFLICT DO NOTHING),
// as the application does with a re-delivery.
const INSERT_REPORTS = `
WITH input AS (
  SELECT e.value AS rep, e.ordinality AS i FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e
), r AS (
  INSERT INTO reports (raw_message_id, organization_name, report_id, start_at, end_at, payload_sha256, report_json)
  SELECT $1, rep ->> 'org', rep ->> 'id', (rep ->> 'start')::timestamptz, (rep ->> 'end')::timestamptz, '\\x00', rep
  FROM input ORDER BY i
  -- No conflict target: partitioned by stored_at (migrations/0013) the identity's unique key includes it,
  -- and the "down and up" test runs this on the plain table of 0001 too.
  ON CONFLICT DO NOTHING
  RETURNING id, report_json
), src AS (
  SELECT r.id AS report_id, e.value AS pol, (e.ordinality - 1)::int AS idx
  FROM r CROSS JOIN LATERAL jsonb_array_elements(r.report_json -> 'policies') WITH ORDINALITY AS e
), p AS (
  INSERT INTO policies (report_id, policy_index, policy_type, policy_domain, policy_string,
                        total_successful_session_count, total_failure_session_count)
  SELECT report_id, idx, pol ->> 'type', pol ->> 'domain',
         ARRAY(SELECT jsonb_array_elements_text(coalesce(pol -> 'strings', '[]'))), (pol ->> 'ok')::bigint, (pol ->> 'failed')::bigint
  FROM src
  RETURNING id, report_id, policy_index
), d AS (
  INSERT INTO failure_details (policy_id, report_id, result_type, failed_session_count)
  SELECT p.id, p.report_id, fd ->> 'type', (fd ->> 'n')::bigint
  FROM src JOIN p ON p.report_id = src.report_id AND p.policy_index = src.idx
  CROSS JOIN LATERAL jsonb_array_elements(coalesce(src.pol -> 'details', '[]')) AS fd
  RETURNING 1
)
SELECT count(*)::int AS n FROM r`;

async function insertReports(c: Queryable, rawId: number, reports: ReportInput[]): Promise<number> {
  return (await c.query<{ n: number }>(INSERT_REPORTS, [rawId, JSON.stringify(reports)])).rows[0]!.n;
}

const ORGS = ['Google Inc.', 'Microsoft Corporation', 'Mail.Ru'];
const DOMAINS = ['a.example', 'b.example', 'c.example'];
const RESULT_TYPES = ['certificate-expired', 'starttls-not-supported', 'validation-failure', 'tlsa-invalid'];
const MODE_LINES = [
  ['version: STSv1', 'mode: testing', 'mx: mx1.example'],
  ['mode: enforce'],
  ['  MODE : None  '],
  ['mode:'],
  ['version: STSv1'],
  ['version: STSv1\nmode: enforce\nmx: mx1.example'],
];
const DAY0 = Date.parse('2024-03-01T00:00:00Z');
const AS_OF = '2024-03-06';

function isoDay(k: number, hours = 0): string {
  return new Date(DAY0 + k * 86_400_000 + hours * 3_600_000).toISOString();
}

/**
 * Random reports over 5 days, 3 reporters and 3 domains: 1-3 policies each, sts and tlsa for one domain
 * (with ties), no-policy-found without a domain, 0-3 failure details (some of 0 sessions), mode lines of
 * every shape, and ranges that end at different times so that "latest" is decided by end_at.
 */
function randomReport(rand: () => number, tag: string): ReportInput {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const day = Math.floor(rand() * 5);
  const policies: PolicyInput[] = [];
  const count = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < count; i++) {
    const details = Array.from({ length: Math.floor(rand() * 4) }, () => ({ type: pick(RESULT_TYPES), n: Math.floor(rand() * 5) }));
    let type = pick(['sts', 'sts', 'tlsa', 'no-policy-found']);
    const domain = type === 'no-policy-found' && rand() < 0.5 ? null : pick(DOMAINS);
    // One sts policy per domain and report, as reporters send them: with two, which mode line is "the
    // latest" is not decided by 0002's enforce_readiness_for (0004 takes the first).
    if (type === 'sts' && policies.some((p) => p.type === 'sts' && p.domain === domain)) type = 'tlsa';
    policies.push({
      type,
      domain,
      strings: type === 'sts' ? pick(MODE_LINES) : [],
      ok: Math.floor(rand() * 4) * 10,
      failed: details.reduce((s, d) => s + d.n, 0),
      details,
    });
  }
  return {
    org: pick(ORGS),
    id: `${tag}-${Math.floor(rand() * 1e9)}`,
    start: isoDay(day),
    end: isoDay(day, 12 + Math.floor(rand() * 12)),
    policies,
  };
}

// --- The expected contents, recomputed from the core tables with the views' definitions (migrations/0002,
// now migrations/definitions/30_stats_views.sql) ---

const EXPECTED_SESSIONS = `
WITH reported AS (
  SELECT report_day(r.start_at, r.end_at) AS day, p.policy_domain, r.organization_name, p.policy_type,
         sum(p.total_successful_session_count)::bigint AS successful_sessions,
         sum(p.total_failure_session_count)::bigint AS failed_sessions,
         count(DISTINCT r.id)::bigint AS reports
  FROM reports r JOIN policies p ON p.report_id = r.id
  GROUP BY 1, 2, 3, 4
), counted AS (
  SELECT day, policy_domain, organization_name, policy_type, sum(successful_sessions)::bigint AS ok,
         sum(failed_sessions)::bigint AS failed, count(*)::bigint AS n
  FROM report_domain_sessions GROUP BY 1, 2, 3, 4
)
SELECT rp.day::text, rp.policy_domain, rp.organization_name, rp.policy_type, rp.successful_sessions, rp.failed_sessions,
       rp.reports, coalesce(c.ok, 0) AS counted_successful_sessions, coalesce(c.failed, 0) AS counted_failed_sessions,
       coalesce(c.n, 0) AS counted_reports
FROM reported rp
LEFT JOIN counted c ON c.day = rp.day AND c.organization_name = rp.organization_name AND c.policy_type = rp.policy_type
                   AND c.policy_domain IS NOT DISTINCT FROM rp.policy_domain`;

const ACTUAL_SESSIONS = `
SELECT day::text, policy_domain, organization_name, policy_type, successful_sessions, failed_sessions, reports,
       counted_successful_sessions, counted_failed_sessions, counted_reports
FROM daily_session_totals`;

const EXPECTED_DOMAINS = `
WITH modes AS (
  -- The readiness verdict's latest mode, per day: the mode of the latest report's sts policy that has one
  -- (sts_mode(), whose own cases are test/rules/stsMode.cases.ts).
  SELECT DISTINCT ON (report_day(r.start_at, r.end_at), p.policy_domain)
         report_day(r.start_at, r.end_at) AS day, p.policy_domain, sts_mode(p.policy_string) AS mode, r.end_at, r.id
  FROM reports r JOIN policies p ON p.report_id = r.id
  WHERE p.policy_type = 'sts' AND sts_mode(p.policy_string) IS NOT NULL
  ORDER BY report_day(r.start_at, r.end_at), p.policy_domain, r.end_at DESC, r.id DESC, p.id
)
SELECT s.day::text, s.policy_domain, sum(s.successful_sessions)::bigint AS counted_successful_sessions,
       sum(s.failed_sessions)::bigint AS counted_failed_sessions, count(*)::bigint AS counted_reports,
       array_agg(DISTINCT s.organization_name ORDER BY s.organization_name) AS organizations,
       min(m.mode) AS sts_mode, min(m.end_at) AS sts_mode_end_at, min(m.id)::bigint AS sts_mode_report_id
FROM report_domain_sessions s
LEFT JOIN modes m ON m.day = s.day AND m.policy_domain IS NOT DISTINCT FROM s.policy_domain
GROUP BY s.day, s.policy_domain`;

const ACTUAL_DOMAINS = `
SELECT day::text, policy_domain, counted_successful_sessions, counted_failed_sessions, counted_reports, organizations,
       sts_mode, sts_mode_end_at, sts_mode_report_id
FROM daily_domain_totals`;

const EXPECTED_FAILURES = `
SELECT s.day::text, s.policy_domain, d.result_type, sum(d.failed_session_count)::bigint AS failed_sessions,
       count(*)::bigint AS failure_details
FROM report_domain_sessions s
CROSS JOIN LATERAL unnest(s.policy_ids) AS c(policy_id)
JOIN failure_details d ON d.policy_id = c.policy_id
GROUP BY 1, 2, 3`;

const ACTUAL_FAILURES = `SELECT day::text, policy_domain, result_type, failed_sessions, failure_details FROM daily_failure_totals`;

/** 0002's daily_domain_stats, over report_domain_sessions. */
const DOMAIN_STATS_0002 = `
SELECT day::text, policy_domain, organization_name, sum(successful_sessions)::bigint AS successful_sessions,
       sum(failed_sessions)::bigint AS failed_sessions, count(*)::bigint AS reports
FROM report_domain_sessions GROUP BY day, policy_domain, organization_name`;

const DOMAIN_STATS = `SELECT day::text, policy_domain, organization_name, successful_sessions, failed_sessions, reports FROM daily_domain_stats`;

/** 0002's enforce_readiness_for, read from the migration file, as enforce_readiness_0002. */
function readiness0002Sql(): string {
  const text = readFileSync(projectPath('migrations/0002_create_stats_views.sql'), 'utf8');
  const start = text.indexOf('CREATE FUNCTION enforce_readiness_for(');
  const end = text.indexOf('$fn$;', start) + '$fn$;'.length;
  assert.ok(start > 0 && end > start, 'enforce_readiness_for in migrations/0002');
  return text.slice(start, end).replace('CREATE FUNCTION enforce_readiness_for(', 'CREATE OR REPLACE FUNCTION enforce_readiness_0002(');
}

const READINESS_ARGS: Array<[number, number, number, number]> = [
  [14, 0.001, 7, 2],
  [3, 0.05, 1, 1],
  [5, 0.2, 2, 2],
  [1, 1, 0, 0],
];

/** Rows as sorted JSON strings: a multiset, whatever the order the query returned them in. */
async function rowsOf(c: Queryable, sql: string, values: unknown[] = []): Promise<string[]> {
  return (await c.query(sql, values)).rows.map((r) => JSON.stringify(r)).sort();
}

async function assertMatchesRecomputation(c: Queryable, what: string): Promise<void> {
  await c.query(`SELECT fold_rollups(1000000)`);
  assert.deepEqual(await rowsOf(c, ACTUAL_SESSIONS), await rowsOf(c, EXPECTED_SESSIONS), `${what}: daily_session_totals`);
  assert.deepEqual(await rowsOf(c, ACTUAL_DOMAINS), await rowsOf(c, EXPECTED_DOMAINS), `${what}: daily_domain_totals`);
  assert.deepEqual(await rowsOf(c, ACTUAL_FAILURES), await rowsOf(c, EXPECTED_FAILURES), `${what}: daily_failure_totals`);
  assert.deepEqual(await rowsOf(c, DOMAIN_STATS), await rowsOf(c, DOMAIN_STATS_0002), `${what}: daily_domain_stats`);
  for (const args of READINESS_ARGS) {
    for (const asOf of [AS_OF, '2024-03-03']) {
      const values = [...args, asOf];
      assert.deepEqual(
        await rowsOf(c, `SELECT ${READINESS_NUMBERS} FROM enforce_readiness_for($1, $2, $3, $4, $5)`, values),
        await rowsOf(c, `SELECT ${READINESS_NUMBERS} FROM enforce_readiness_0002($1, $2, $3, $4, $5)`, values),
        `${what}: enforce_readiness_for(${values.join(', ')})`,
      );
    }
  }
}

/**
 * The verdict's numbers, which the totals must reproduce from the core tables as 0002's function computed
 * them. Its words, its rounding of the rate, its mode reading and its "ready" for a domain without an sts
 * policy changed on purpose since (migrations/definitions/40_readiness.sql; tested in statsViews.test.ts),
 * and the mode the totals keep is compared above (daily_domain_totals).
 */
const READINESS_NUMBERS = 'policy_domain, days_with_reports, reporters, successful_sessions, failed_sessions, top_result_type';

async function count(c: Queryable, table: string): Promise<number> {
  return (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
}

/** What a hand correction is followed by (README "Retention"): the days of the split-* reports recomputed. */
const REFRESH_SPLIT_DAYS = `SELECT refresh_daily_totals(ARRAY(SELECT DISTINCT report_day(start_at, end_at) FROM reports WHERE report_id LIKE 'split-%'))`;

describe('daily totals kept by the rollup fold', () => {
  let db: TestDatabase;
  let rawId: number;

  before(async () => {
    db = await createTestDatabase();
    await db.pool.query(readiness0002Sql());
    rawId = await insertRawMessage(db.pool, Buffer.from('{}'), { channel: 'ingest' });
  });
  after(() => db?.drop());

  it('equal a recomputation after statements that each insert several reports', async () => {
    const rand = createRandom(8460);
    const all: ReportInput[] = [];
    for (let s = 0; s < 40; s++) {
      const batch = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => randomReport(rand, `batch${s}`));
      // Re-deliveries: identities already stored, or twice in this statement, are skipped.
      if (all.length > 0 && rand() < 0.3) batch.push(all[Math.floor(rand() * all.length)]!);
      if (rand() < 0.2) batch.push(batch[0]!);
      await insertReports(db.pool, rawId, batch);
      all.push(...batch);
    }
    // In one statement: two reports of the same day, domain and reporter; one of them lists the domain under
    // tlsa and sts with the same sessions (sts counts), the other with more under tlsa (tlsa counts).
    await insertReports(db.pool, rawId, [
      {
        org: 'Microsoft Corporation',
        id: 'same-key-1',
        start: isoDay(2),
        end: isoDay(3),
        policies: [
          { type: 'tlsa', domain: 'a.example', ok: 30, failed: 2, details: [{ type: 'tlsa-invalid', n: 2 }] },
          {
            type: 'sts',
            domain: 'a.example',
            strings: ['mode: enforce'],
            ok: 30,
            failed: 2,
            details: [{ type: 'certificate-expired', n: 2 }],
          },
        ],
      },
      {
        org: 'Microsoft Corporation',
        id: 'same-key-2',
        start: isoDay(2),
        end: isoDay(2, 23),
        policies: [
          { type: 'sts', domain: 'a.example', strings: ['mode: testing'], ok: 10, failed: 0 },
          { type: 'tlsa', domain: 'a.example', ok: 11, failed: 1, details: [{ type: 'tlsa-invalid', n: 1 }] },
        ],
      },
    ]);
    assert.ok((await count(db.pool, 'reports')) > 100);
    await assertMatchesRecomputation(db.pool, 'after multi-report statements');

    // refresh_daily_totals() rebuilds the same rows from the core tables.
    const before = [await rowsOf(db.pool, ACTUAL_SESSIONS), await rowsOf(db.pool, ACTUAL_DOMAINS), await rowsOf(db.pool, ACTUAL_FAILURES)];
    await db.pool.query(`SELECT refresh_daily_totals()`);
    assert.deepEqual(
      [await rowsOf(db.pool, ACTUAL_SESSIONS), await rowsOf(db.pool, ACTUAL_DOMAINS), await rowsOf(db.pool, ACTUAL_FAILURES)],
      before,
    );
  });

  it('equal a recomputation when reports, policies and failure details come in separate statements', async () => {
    const c = await db.pool.connect();
    try {
      const report = async (id: string, org: string, day: number, endHours = 23) =>
        (
          await c.query<{ id: number }>(
            `INSERT INTO reports (raw_message_id, organization_name, report_id, start_at, end_at, payload_sha256, report_json)
           VALUES ($1, $2, $3, $4, $5, '\\x00', '{}') RETURNING id`,
            [rawId, org, id, isoDay(day), isoDay(day, endHours)],
          )
        ).rows[0]!.id;
      const policy = async (
        reportId: number,
        index: number,
        type: string,
        domain: string,
        ok: number,
        failed: number,
        strings: string[] = [],
      ) =>
        (
          await c.query<{ id: number }>(
            `INSERT INTO policies (report_id, policy_index, policy_type, policy_domain, policy_string,
                                 total_successful_session_count, total_failure_session_count)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
            [reportId, index, type, domain, strings, ok, failed],
          )
        ).rows[0]!.id;
      const details = (rows: Array<[number, number, string, number]>) =>
        c.query(
          `INSERT INTO failure_details (policy_id, report_id, result_type, failed_session_count)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[])`,
          [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])],
        );

      // A report, then its policies, then its details: three statements in one transaction.
      await c.query('BEGIN');
      const r1 = await report('split-1', 'Yahoo', 1);
      const r1sts = await policy(r1, 0, 'sts', 'split.example', 100, 5, ['mode: testing']);
      const r1tlsa = await policy(r1, 1, 'tlsa', 'split.example', 100, 5);
      await details([
        [r1sts, r1, 'certificate-expired', 3],
        [r1sts, r1, 'validation-failure', 2],
        [r1tlsa, r1, 'tlsa-invalid', 5],
      ]);
      await c.query('COMMIT');
      await assertMatchesRecomputation(c, 'report, policies, details in three statements');

      // Rows added to a report already folded are not counted by the fold (migrations/0012): the days they
      // change are recomputed by refresh_daily_totals(days), as after any correction by hand.
      // More details later, for the counted (sts) and the uncounted (tlsa) policy.
      await details([
        [r1sts, r1, 'certificate-expired', 1],
        [r1tlsa, r1, 'tlsa-invalid', 1],
      ]);
      await c.query(REFRESH_SPLIT_DAYS);
      await assertMatchesRecomputation(c, 'late failure details');

      // A later statement adds a tlsa policy for the same domain with more sessions: tlsa becomes the counted
      // type of split-1, so its sts failures stop counting and the tlsa ones start to.
      await policy(r1, 2, 'tlsa', 'split.example', 50, 0);
      await c.query(REFRESH_SPLIT_DAYS);
      await assertMatchesRecomputation(c, 'policy added to a stored report, counted type changes');

      // One statement that adds a policy to a stored report's domain (sts becomes the counted type again) and
      // details for that report's old policies, and a late detail for another report on the same day.
      const r2 = await report('split-2', 'Yahoo', 1, 20);
      const r2sts = await policy(r2, 0, 'sts', 'split.example', 10, 0, ['mode: enforce']);
      await c.query(
        `WITH p AS (
           INSERT INTO policies (report_id, policy_index, policy_type, policy_domain, policy_string,
                                 total_successful_session_count, total_failure_session_count)
           VALUES ($1, 3, 'sts', 'split.example', '{"version: STSv1"}', 200, 7) RETURNING id
         )
         INSERT INTO failure_details (policy_id, report_id, result_type, failed_session_count)
         SELECT id, $1, 'starttls-not-supported', 7 FROM p
         UNION ALL VALUES ($2::bigint, $1::bigint, 'validation-failure', 4), ($3, $1, 'tlsa-invalid', 9), ($4, $5, 'certificate-expired', 6)`,
        [r1, r1sts, r1tlsa, r2sts, r2],
      );
      await c.query(REFRESH_SPLIT_DAYS);
      await assertMatchesRecomputation(c, 'policies and details of old and new policies in one statement');

      // A policy for a domain the report did not list yet, and a no-policy-found without a domain.
      await policy(r2, 1, 'no-policy-found', 'other.example', 3, 0);
      await c.query(
        `INSERT INTO policies (report_id, policy_index, policy_type, policy_domain, total_successful_session_count, total_failure_session_count)
         VALUES ($1, 2, 'no-policy-found', NULL, 4, 1), ($1, 3, 'no-policy-found', NULL, 1, 0)`,
        [r2],
      );
      await c.query(REFRESH_SPLIT_DAYS);
      await assertMatchesRecomputation(c, 'new domains of a stored report');

      // An insert that inserts nothing.
      await details([]);
      await c.query(`INSERT INTO policies SELECT * FROM policies WHERE false`);
      await assertMatchesRecomputation(c, 'empty inserts');
    } finally {
      // A failed ROLLBACK means a broken connection: the client is discarded instead of reused, and the test
      // reports the assertion that failed, not this consequence of it.
      const broken = await c.query('ROLLBACK').then(
        () => undefined,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      );
      c.release(broken);
    }
  });

  it('equal a recomputation after reports stored by the application, with re-deliveries and a conflict', async () => {
    const set = craftedStatsSet(AS_OF);
    const changed = structuredClone(set[1]!.json) as { policies: Array<{ summary: Record<string, number> }> };
    changed.policies[0]!.summary['total-successful-session-count'] = 123456;
    // Re-deliveries within a batch and across batches, and a different report reusing an identity.
    const jsons = [...set.map((r) => r.json), set[0]!.json, set[5]!.json, changed];
    // Batches of 16 reports in one statement each, as the worker stores the jobs it holds.
    const outcomes = await storeJsonReports(db.pool, jsons);
    assert.deepEqual(outcomes.slice(-3), ['duplicate', 'duplicate', 'conflict']);
    assert.ok(outcomes.slice(0, -3).every((o) => o === 'stored'));
    // And one report through the whole worker path.
    const extra = structuredClone(set[2]!.json) as Record<string, unknown>;
    extra['report-id'] = 'through-processMessage';
    const id = await insertRawMessage(db.pool, Buffer.from(JSON.stringify(extra)), { channel: 'ingest' });
    assert.equal((await processMessage({ pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1 }, id)).outcome, 'stored');
    await assertMatchesRecomputation(db.pool, 'after the application stored the crafted set');
  });

  it('equal a recomputation after two connections insert overlapping reports at the same time', async () => {
    const clients = [new pg.Client({ connectionString: db.url }), new pg.Client({ connectionString: db.url })];
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const before = await count(db.pool, 'reports');
      // Both write the same days, domains and reporters, in opposite orders within each statement.
      const work = clients.map(async (c, k) => {
        const rand = createRandom(100 + k);
        for (let s = 0; s < 25; s++) {
          const batch = Array.from({ length: 6 }, () => randomReport(rand, `conn${k}-${s}`));
          batch.sort((a, b) => (k === 0 ? a.start.localeCompare(b.start) : b.start.localeCompare(a.start)));
          await insertReports(c, rawId, batch);
        }
      });
      await Promise.all(work);
      assert.equal((await count(db.pool, 'reports')) - before, 2 * 25 * 6);
      await assertMatchesRecomputation(db.pool, 'after concurrent inserts');
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('keep their figures when rows are updated or deleted, and follow a correction through refresh_daily_totals(days)', async () => {
    await assertMatchesRecomputation(db.pool, 'before the changes');
    const totals = async () => [
      await rowsOf(db.pool, ACTUAL_SESSIONS),
      await rowsOf(db.pool, ACTUAL_DOMAINS),
      await rowsOf(db.pool, ACTUAL_FAILURES),
    ];
    const before = await totals();
    const ids = (await db.pool.query<{ id: number }>(`SELECT id FROM reports ORDER BY id LIMIT 6`)).rows.map((r) => r.id);
    const daysOf = async (reportIds: number[]) =>
      (
        await db.pool.query<{ days: string[] }>(
          `SELECT array_agg(DISTINCT report_day(start_at, end_at))::text[] AS days FROM reports WHERE id = ANY ($1)`,
          [reportIds],
        )
      ).rows[0]!.days;
    const touched = await daysOf(ids);
    // Moved to another day and reporter; an update of another column changes nothing.
    await db.pool.query(
      `UPDATE reports SET start_at = start_at + interval '1 day', end_at = end_at + interval '1 day',
                                           organization_name = organization_name || ' (moved)' WHERE id = $1`,
      [ids[0]],
    );
    touched.push(...(await daysOf([ids[0]!])));
    await db.pool.query(`UPDATE reports SET stored_at = now() - interval '1 hour' WHERE id = ANY ($1)`, [ids]);
    await db.pool.query(`UPDATE policies SET total_successful_session_count = total_successful_session_count + 1000 WHERE report_id = $1`, [
      ids[1],
    ]);
    await db.pool.query(`UPDATE failure_details SET failed_session_count = failed_session_count + 3 WHERE report_id = $1`, [ids[2]]);
    await db.pool.query(`SELECT fold_rollups()`);
    assert.deepEqual(await totals(), before, 'an UPDATE changes no rollup');
    await db.pool.query(`SELECT refresh_daily_totals($1::date[])`, [touched]);
    await assertMatchesRecomputation(db.pool, 'after updates and refresh_daily_totals(days)');

    // Retention: deleting details, policies or whole reports (ON DELETE CASCADE) keeps the figures.
    const kept = await totals();
    await db.pool.query(`DELETE FROM failure_details WHERE report_id = $1`, [ids[3]]);
    await db.pool.query(`DELETE FROM policies WHERE report_id = $1 AND policy_index = 0`, [ids[4]]);
    await db.pool.query(`DELETE FROM reports WHERE id = $1`, [ids[5]]);
    await db.pool.query(`DELETE FROM reports WHERE report_day(start_at, end_at) = '2024-03-01' AND organization_name = 'Mail.Ru'`);
    await db.pool.query(`SELECT fold_rollups()`);
    assert.deepEqual(await totals(), kept, 'deleting details keeps the rollups');
  });

  it('outlive TRUNCATE of the core tables; refresh_daily_totals() recomputes everything from the rows left', async () => {
    await db.pool.query(`SELECT refresh_daily_totals()`);
    await assertMatchesRecomputation(db.pool, 'after refresh_daily_totals()');
    assert.ok((await count(db.pool, 'daily_failure_totals')) > 0);
    await db.pool.query(`TRUNCATE raw_messages, reports, policies, failure_details CASCADE`);
    assert.ok((await count(db.pool, 'daily_session_totals')) > 0);
    await db.pool.query(`SELECT refresh_daily_totals()`);
    for (const table of ['daily_session_totals', 'daily_domain_totals', 'daily_failure_totals', 'metric_session_totals'])
      assert.equal(await count(db.pool, table), 0, table);
    rawId = await insertRawMessage(db.pool, Buffer.from('{}'), { channel: 'ingest' });
    await insertReports(db.pool, rawId, [randomReport(createRandom(1), 'after-truncate')]);
    await assertMatchesRecomputation(db.pool, 'after TRUNCATE ... CASCADE and a new report');
  });
});

describe('migration 0004 down and up', () => {
  let db: TestDatabase;
  let reference: TestDatabase;
  after(async () => {
    await db?.drop();
    await reference?.drop();
  });

  const definitions = `SELECT pg_get_viewdef('daily_policy_stats'::regclass) AS policy_stats,
                              pg_get_viewdef('daily_domain_stats'::regclass) AS domain_stats,
                              pg_get_functiondef('enforce_readiness_for'::regproc) AS readiness`;

  it('goes back to the views of 0002 with the same results, and rebuilds the totals from stored rows', async () => {
    db = await createTestDatabase();
    await db.pool.query(readiness0002Sql());
    const rawId = await insertRawMessage(db.pool, Buffer.from('{}'), { channel: 'ingest' });
    const rand = createRandom(4);
    for (let s = 0; s < 10; s++)
      await insertReports(
        db.pool,
        rawId,
        Array.from({ length: 5 }, () => randomReport(rand, `m${s}`)),
      );
    await db.pool.query(`SELECT fold_rollups(1000000)`);
    const withTotals = await db.pool.query(definitions);
    const results = async () => [
      await rowsOf(db.pool, `SELECT * FROM daily_policy_stats`),
      await rowsOf(db.pool, `SELECT * FROM daily_domain_stats`),
      await rowsOf(db.pool, `SELECT ${READINESS_NUMBERS} FROM enforce_readiness_for(5, 0.01, 1, 1, $1)`, [AS_OF]),
    ];
    const before = await results();

    // Down to just before 0004 (through any later migration), then up again.
    await runMigrationSteps(db.url, 'down', migrationsFrom('0004'));
    const tables = await db.pool.query(`SELECT to_regclass('daily_session_totals') AS s, to_regclass('daily_domain_totals') AS d,
                                               to_regclass('daily_failure_totals') AS f, to_regproc('refresh_daily_totals') AS fn`);
    assert.deepEqual(tables.rows[0], { s: null, d: null, f: null, fn: null });
    // The same definitions as in a database that never had 0004: all down, then up to 0003.
    reference = await createTestDatabase();
    await runMigrationSteps(reference.url, 'down', MIGRATION_FILES.length);
    await runMigrationSteps(reference.url, 'up', MIGRATION_FILES.length - migrationsFrom('0004'));
    const without = (await db.pool.query(definitions)).rows[0];
    assert.deepEqual(without, (await reference.pool.query(definitions)).rows[0]);
    assert.match(without.domain_stats, /report_domain_sessions/);
    assert.deepEqual(await results(), before, 'the views of 0002 give the same results');
    // Rows stored while 0004 is not applied are counted when it is applied again (the backfill).
    await insertReports(
      db.pool,
      rawId,
      Array.from({ length: 5 }, () => randomReport(rand, 'while-down')),
    );

    // Up as `tlsrpt migrate` goes: the numbered migrations, then the SQL definitions (migrations/definitions/).
    await migrate(db.url);
    assert.deepEqual((await db.pool.query(definitions)).rows[0], withTotals.rows[0]);
    await assertMatchesRecomputation(db.pool, 'after down and up');
  });
});
