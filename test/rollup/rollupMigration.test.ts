/**
 * Migration 0012 on a database that holds reports stored by the previous release (its triggers kept the
 * per-day totals): afterwards the per-day totals are unchanged, the /metrics totals start from the stored
 * rows, nothing is queued twice, and reports stored after it are folded as usual. Down and up again keeps
 * the figures too (0012's down adds what is still queued, as the triggers it restores would have).
 * "Down" goes to just before 0012, whatever migrations came after it (0013 partitions the tables and adds
 * the report identities that this version's store needs, so the previous release's rows are written here
 * by that release's own statement, PREVIOUS_RELEASE_INSERT).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrate } from '../../src/db/migrate.js';
import { decodeMessage } from '../../src/pipeline/decodeMessage.js';
import { foldRollups } from '../../src/rollup/foldRollups.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { storeReports, type StoreItem } from '../../src/store/storeReport.js';
import { craftedStatsSet } from '../helpers/craftedStatsSet.js';
import { migrationsFrom, runMigrationSteps } from '../helpers/runMigrationSteps.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const AS_OF = '2026-01-15';

async function received(db: TestDatabase, suffix: string): Promise<StoreItem[]> {
  const items: StoreItem[] = [];
  for (const { json } of craftedStatsSet(AS_OF)) {
    const raw = Buffer.from(JSON.stringify({ ...json, 'report-id': `${String(json['report-id'])}${suffix}` }));
    items.push({
      rawMessageId: await insertRawMessage(db.pool, raw, { channel: 'ingest' }),
      decoded: await decodeMessage(raw, { reportMaxBytes: 1 << 20 }),
    });
  }
  return items;
}

async function store(db: TestDatabase, suffix: string): Promise<void> {
  for (const r of await storeReports(db.pool, await received(db, suffix))) assert.ok(!(r instanceof Error), String(r));
}

// How the release before 0012 stored a report (src/store/storeReport.ts then): the report, its policies and
// failure details and the message's state in one statement, whose triggers (migrations/0004) added it to
// the per-day totals. No report_identities yet (0013).
const PREVIOUS_RELEASE_INSERT = `
WITH r AS (
  INSERT INTO reports (raw_message_id, organization_name, report_id, contact_info, start_at, end_at, payload_sha256,
                       report_json, fixups)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  RETURNING id
), src AS (
  SELECT r.id AS report_id, e.value AS e, (e.ordinality - 1)::int AS i
  FROM r CROSS JOIN LATERAL jsonb_array_elements($8::jsonb -> 'policies') WITH ORDINALITY AS e
), p AS (
  INSERT INTO policies (report_id, policy_index, policy_type, policy_domain, policy_string, mx_host,
                        total_successful_session_count, total_failure_session_count)
  SELECT src.report_id, src.i, src.e -> 'policy' ->> 'policy-type', src.e -> 'policy' ->> 'policy-domain',
         ARRAY(SELECT jsonb_array_elements_text(coalesce(src.e -> 'policy' -> 'policy-string', '[]'))),
         ARRAY(SELECT jsonb_array_elements_text(coalesce(src.e -> 'policy' -> 'mx-host', '[]'))),
         (src.e -> 'summary' ->> 'total-successful-session-count')::bigint,
         (src.e -> 'summary' ->> 'total-failure-session-count')::bigint
  FROM src ORDER BY src.i
  RETURNING id, report_id, policy_index
), d AS (
  INSERT INTO failure_details (policy_id, report_id, result_type, sending_mta_ip, receiving_mx_hostname,
                               receiving_mx_helo, receiving_ip, failed_session_count, additional_information,
                               failure_reason_code)
  SELECT p.id, p.report_id, fd.value ->> 'result-type', fd.value ->> 'sending-mta-ip', fd.value ->> 'receiving-mx-hostname',
         fd.value ->> 'receiving-mx-helo', fd.value ->> 'receiving-ip', (fd.value ->> 'failed-session-count')::bigint,
         fd.value ->> 'additional-information', fd.value ->> 'failure-reason-code'
  FROM src
  JOIN p ON p.policy_index = src.i
  CROSS JOIN LATERAL jsonb_array_elements(coalesce(src.e -> 'failure-details', '[]')) WITH ORDINALITY AS fd
  ORDER BY src.i, fd.ordinality
  RETURNING 1
)
UPDATE raw_messages SET status = 'stored', report_id = r.id, processed_at = now() FROM r WHERE raw_messages.id = $1`;

async function storeAsPreviousRelease(db: TestDatabase, suffix: string): Promise<void> {
  for (const { rawMessageId, decoded } of await received(db, suffix)) {
    const { report } = decoded;
    await db.pool.query(PREVIOUS_RELEASE_INSERT, [
      rawMessageId,
      report.organizationName,
      report.reportId,
      report.contactInfo,
      report.startAt,
      report.endAt,
      decoded.payloadSha256,
      JSON.stringify(decoded.normalised),
      decoded.fixups,
    ]);
  }
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
    await runMigrationSteps(db.url, 'down', migrationsFrom('0012'));
    assert.equal((await db.pool.query(`SELECT to_regclass('rollup_queue') AS t`)).rows[0].t, null);
    await storeAsPreviousRelease(db, '-old'); // its triggers add to the totals in the write
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
    await runMigrationSteps(db.url, 'down', migrationsFrom('0012'));
    assert.equal((await db.pool.query(`SELECT to_regclass('rollup_queue') AS t`)).rows[0].t, null);
    const downDaily = await Promise.all(DAILY.map((q) => rowsOf(db, q)));
    await migrate(db.url);
    await db.pool.query(`SELECT refresh_daily_totals()`);
    assert.deepEqual(await Promise.all(DAILY.map((q) => rowsOf(db, q))), downDaily);
  });
});
