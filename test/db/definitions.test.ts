/**
 * The SQL definitions (migrations/definitions/): applied after the numbered migrations, recorded by content,
 * applied again from the first changed file on, once however many processes migrate at the same time, and
 * counted as pending by the schema checks until they are.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DEFINITIONS_DIR, migrate, pendingMigrations } from '../../src/db/migrate.js';
import { SchemaNotCurrentError, requireCurrentSchema } from '../../src/db/requireCurrentSchema.js';
import { projectPath } from '../../src/util/projectPath.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { storeReport } from '../rules/storeReport.js';

const FILES = readdirSync(projectPath(DEFINITIONS_DIR))
  .filter((f) => f.endsWith('.sql'))
  .sort();

describe('SQL definitions, one home per function and view', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  const pending = async () => {
    const c = await db.pool.connect();
    try {
      return await pendingMigrations(c);
    } finally {
      c.release();
    }
  };
  /** What the database would hold had it applied an older version of `name`. */
  const forget = (name: string) => db.pool.query(`UPDATE schema_definitions SET sha256 = 'an older version' WHERE name = $1`, [name]);

  it('a migrated database holds every file and has nothing pending', async () => {
    const rows = await db.pool.query(`SELECT name FROM schema_definitions ORDER BY name`);
    assert.deepEqual(
      rows.rows.map((r) => r.name),
      FILES,
    );
    assert.deepEqual(await pending(), []);
  });

  it('a changed file is pending, with every file after it, until migrate applies them', async () => {
    await forget('30_stats_views.sql');
    assert.deepEqual(await pending(), ['definitions/30_stats_views.sql', 'definitions/40_readiness.sql']);
    await assert.rejects(requireCurrentSchema(db.pool), (err: unknown) => {
      assert.ok(err instanceof SchemaNotCurrentError);
      assert.match(err.message, /pending: definitions\/30_stats_views\.sql, definitions\/40_readiness\.sql\); run "tlsrpt migrate"/);
      return true;
    });
    const result = await migrate(db.url);
    assert.deepEqual(result.applied, ['definitions/30_stats_views.sql', 'definitions/40_readiness.sql']);
    assert.deepEqual(await pending(), []);
    assert.deepEqual((await migrate(db.url)).applied, [], 'an unchanged file is not applied again');
  });

  it('a changed rule rebuilds the daily totals computed by the old one', async () => {
    await storeReport(db.pool, {
      start: '2026-01-14T00:00:00Z',
      end: '2026-01-14T23:59:59Z',
      policies: [{ type: 'sts', domain: 'rebuilt.example', policyString: ['version: STSv1\nmode: enforce'], ok: 5, failed: 0 }],
    });
    // What the totals held before sts_mode() read elements line by line (migration 0004's reading).
    await db.pool.query(`UPDATE daily_domain_totals SET sts_mode = NULL, sts_mode_end_at = NULL WHERE policy_domain = 'rebuilt.example'`);
    await forget('10_rules.sql');
    const result = await migrate(db.url);
    assert.deepEqual(
      result.applied,
      FILES.map((f) => `definitions/${f}`),
    );
    const totals = await db.pool.query(`SELECT sts_mode FROM daily_domain_totals WHERE policy_domain = 'rebuilt.example'`);
    assert.deepEqual(totals.rows, [{ sts_mode: 'enforce' }]);
  });

  it('a version older than the database leaves its definitions alone', async () => {
    // A migration this version does not know: the database was migrated by a newer one.
    await db.pool.query(`INSERT INTO pgmigrations (name, run_on) VALUES ('9999_from_a_newer_version', now())`);
    try {
      await forget('40_readiness.sql');
      assert.deepEqual(await pending(), []);
      const said: string[] = [];
      const result = await migrate(db.url, (m) => said.push(m));
      assert.deepEqual(result.applied, []);
      assert.match(
        said.join('\n'),
        /migrations this version does not know \(9999_from_a_newer_version\): its SQL definitions are left as they are/,
      );
      const row = await db.pool.query(`SELECT sha256 FROM schema_definitions WHERE name = '40_readiness.sql'`);
      assert.equal(row.rows[0].sha256, 'an older version');
    } finally {
      await db.pool.query(`DELETE FROM pgmigrations WHERE name = '9999_from_a_newer_version'`);
    }
  });

  it('processes migrating at the same time apply a changed file once', async () => {
    await forget('40_readiness.sql');
    const results = await Promise.all([migrate(db.url), migrate(db.url), migrate(db.url)]);
    assert.deepEqual(results.map((r) => r.applied).sort(), [[], [], ['definitions/40_readiness.sql']]);
    assert.deepEqual(await pending(), []);
  });
});
