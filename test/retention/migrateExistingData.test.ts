/**
 * Migration 0013 on a database holding data written before it (the current release's schema): every row
 * of reports, policies and failure_details comes through the partitioning unchanged, the views give the
 * same answers with the same definitions, the identities are filled, ids go on from where they were, and
 * the down migration gives the plain tables back with the same rows.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { migrationsFrom, runMigrationSteps } from '../helpers/runMigrationSteps.js';
import { PG_URL_BASE, requireServices } from '../helpers/services.js';
import { rowsOf, storeSpecs } from './retentionFixtures.js';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${PG_URL_BASE}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

// Rows as the release before 0013 wrote them: three reports stored in three months, tlsa and sts policies
// for one domain (counted once), failure details, an alert window holding one report.
const RELEASE_DATA = `
INSERT INTO raw_messages (channel, size_bytes, sha256, raw, status) VALUES
  ('smtp', 3, '\\x01', '\\x010203', 'stored'), ('smtp', 3, '\\x02', '\\x040506', 'stored'), ('ingest', 1, '\\x03', '\\x07', 'stored');
INSERT INTO reports (raw_message_id, organization_name, report_id, contact_info, start_at, end_at, payload_sha256, report_json, fixups, stored_at)
VALUES (1, 'Google Inc.', 'g-1', 'a@b', '2025-01-01T00:00:00Z', '2025-01-01T23:59:59Z', '\\xaa', '{"n": 1}', '{}', '2025-01-02T03:00:00Z'),
       (2, 'Microsoft Corporation', 'm-1', NULL, '2026-03-04T00:00:00Z', '2026-03-05T00:00:00Z', '\\xbb', '{"n": 2}', '{fix}', '2026-03-05T10:00:00Z'),
       (3, 'Google Inc.', 'g-2', NULL, '2026-03-05T00:00:00Z', '2026-03-05T23:59:59Z', '\\xcc', '{"n": 3}', '{}', now());
INSERT INTO policies (report_id, policy_index, policy_type, policy_domain, policy_string, mx_host,
                      total_successful_session_count, total_failure_session_count)
SELECT r.id, p.i, p.t, 'a.example', CASE p.t WHEN 'sts' THEN '{"version: STSv1","mode: testing"}'::text[] ELSE '{}' END, '{mx.a.example}',
       100 * r.id + p.i, r.id + p.i
FROM reports r, (VALUES (0, 'tlsa'), (1, 'sts')) AS p(i, t);
INSERT INTO failure_details (policy_id, report_id, result_type, sending_mta_ip, receiving_mx_hostname, failed_session_count)
SELECT p.id, p.report_id, CASE WHEN p.policy_index = 0 THEN 'tlsa-invalid' ELSE 'certificate-expired' END, '198.51.100.1', 'mx.a.example',
       p.total_failure_session_count
FROM policies p;
UPDATE raw_messages SET report_id = id;
INSERT INTO alert_windows (policy_domain, closes_at) VALUES ('a.example', now());
INSERT INTO alert_window_reports (report_id, policy_domain, window_id) VALUES (3, 'a.example', 1);
`;

describe('migration 0013 on a database with data', () => {
  const name = `tlsrpt_test_0013_${process.pid}_${randomBytes(3).toString('hex')}`;
  const url = `${PG_URL_BASE}/${name}`;
  let pool: Pool;

  const tables = async () => ({
    reports: await rowsOf(pool, `SELECT to_jsonb(r) FROM reports r`),
    policies: await rowsOf(pool, `SELECT to_jsonb(p) - 'stored_at' FROM policies p`),
    failure_details: await rowsOf(pool, `SELECT to_jsonb(d) - 'stored_at' FROM failure_details d`),
    raw_messages: await rowsOf(pool, `SELECT to_jsonb(m) FROM raw_messages m`),
    alert_window_reports: await rowsOf(pool, `SELECT * FROM alert_window_reports`),
  });
  const viewNames = ['report_domain_sessions', 'daily_policy_stats', 'daily_domain_stats', 'failure_stats'];
  const answers = async () => ({
    ...Object.fromEntries(await Promise.all(viewNames.map(async (v) => [v, await rowsOf(pool, `SELECT * FROM ${v}`)]))),
    readiness: await rowsOf(pool, `SELECT * FROM enforce_readiness_for(30, 0.5, 1, 1, '2026-03-20')`),
    definitions: await rowsOf(pool, `SELECT relname, pg_get_viewdef(oid) FROM pg_class WHERE relname = ANY ($1)`, [viewNames]),
  });

  let releaseTables: Awaited<ReturnType<typeof tables>>;
  let releaseAnswers: Awaited<ReturnType<typeof answers>>;

  before(async () => {
    await requireServices();
    await admin(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    // The schema of the release before 0013, with its SQL definitions, then its data.
    await migrate(url);
    await runMigrationSteps(url, 'down', migrationsFrom('0013'));
    pool = createPool(url, { max: 2 });
    await pool.query(RELEASE_DATA);
    releaseTables = await tables();
    releaseAnswers = await answers();
  });
  after(async () => {
    await pool?.end();
    await admin(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  });

  it('keeps every row and every answer of the views', async () => {
    assert.equal((await pool.query(`SELECT relkind FROM pg_class WHERE relname = 'reports'`)).rows[0].relkind, 'r');
    await migrate(url);
    const kinds = await pool.query(
      `SELECT relname, relkind FROM pg_class WHERE relname IN ('reports', 'policies', 'failure_details') ORDER BY 1`,
    );
    assert.deepEqual(
      kinds.rows.map((r) => r.relkind),
      ['p', 'p', 'p'],
    );
    assert.deepEqual(await tables(), releaseTables);
    assert.deepEqual(await answers(), releaseAnswers);
    // Each row is in the month its report was stored in.
    const months = await pool.query(
      `SELECT DISTINCT tableoid::regclass::text AS t FROM failure_details WHERE report_id IN (1, 2) ORDER BY 1`,
    );
    assert.deepEqual(
      months.rows.map((r) => r.t),
      ['failure_details_2025_01', 'failure_details_2026_03'],
    );
    const cascades = await pool.query(`SELECT referencing_table, referencing_column, referenced_table FROM retention_cascades`);
    assert.deepEqual(cascades.rows, [
      { referencing_table: 'alert_window_reports', referencing_column: 'report_id', referenced_table: 'reports' },
    ]);
    const identities = await pool.query(`SELECT id, organization_name, report_id, raw_message_id FROM report_identities ORDER BY id`);
    assert.deepEqual(identities.rows, [
      { id: 1, organization_name: 'Google Inc.', report_id: 'g-1', raw_message_id: 1 },
      { id: 2, organization_name: 'Microsoft Corporation', report_id: 'm-1', raw_message_id: 2 },
      { id: 3, organization_name: 'Google Inc.', report_id: 'g-2', raw_message_id: 3 },
    ]);
  });

  it('stores new reports after the old ones, and dedupes against them', async () => {
    const [stored] = await storeSpecs(pool, [
      { org: 'Mail.ru', reportId: 'new', day: '2026-03-06', domain: 'a.example', ok: 3, failures: {} },
    ]);
    assert.equal(stored!.outcome, 'stored');
    assert.equal(stored!.reportId, 4, 'the sequence of reports.id goes on');
    const policy = await pool.query(`SELECT id FROM policies WHERE report_id = 4`);
    assert.equal(policy.rows[0].id, 7);
    const [reused] = await storeSpecs(pool, [
      { org: 'Google Inc.', reportId: 'g-1', day: '2025-01-01', domain: 'a.example', ok: 1, failures: {} },
    ]);
    assert.deepEqual([reused!.outcome, reused!.reportId], ['conflict', 1], 'an identity stored before the migration');
    await pool.query(`DELETE FROM reports WHERE id = 4`);
    await pool.query(`DELETE FROM policies WHERE report_id = 4`);
  });

  it('goes down to the plain tables with the same rows', async () => {
    await pool.query(`DELETE FROM report_identities WHERE id = 4`);
    await pool.query(`DELETE FROM raw_messages WHERE id > 3`);
    await runMigrationSteps(url, 'down', migrationsFrom('0013'));
    const kinds = await pool.query(`SELECT relkind FROM pg_class WHERE relname IN ('reports', 'policies', 'failure_details')`);
    assert.deepEqual(
      kinds.rows.map((r) => r.relkind),
      ['r', 'r', 'r'],
    );
    assert.deepEqual(await tables(), releaseTables);
    const keys = await pool.query(`SELECT conname FROM pg_constraint WHERE contype = 'f' AND conname LIKE '%report_id_fkey' ORDER BY 1`);
    assert.deepEqual(
      keys.rows.map((r) => r.conname),
      ['alert_window_reports_report_id_fkey', 'policies_report_id_fkey', 'raw_messages_report_id_fkey'],
    );
    await migrate(url);
    assert.deepEqual(await tables(), releaseTables);
  });
});
