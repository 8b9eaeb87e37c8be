/**
 * `tlsrpt stats` says when the daily totals are more than a minute behind the stored reports (issue 13,
 * decision 1): in the table output, and on stderr for json and csv, which scripts parse. `tlsrpt ingest`
 * folds what it stored, so stats right after it shows the reports and no such line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { craftedStatsSet } from '../helpers/craftedStatsSet.js';
import { runCli } from '../helpers/runCli.js';
import { REDIS_URL } from '../helpers/services.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const AS_OF = new Date().toISOString().slice(0, 10);
const NOTE = /^Note: the daily totals are \d+ minutes behind \(1 report not yet counted\)\./m;

describe('tlsrpt stats and the rollup lag', () => {
  let db: TestDatabase;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    db = await createTestDatabase();
    env = { DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: `test-stats-lag-${process.pid}` };
    dir = mkdtempSync(join(tmpdir(), 'tlsrpt-lag-'));
    for (const r of craftedStatsSet(AS_OF).slice(0, 3)) writeFileSync(join(dir, r.filename), JSON.stringify(r.json));
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('ingest folds what it stored: stats shows it at once, without a lag line', async () => {
    assert.equal((await runCli(['ingest', dir], env)).code, 0);
    const r = await runCli(['stats', '--since', '1970-01-01'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /Note:/);
    assert.match(r.stdout, /example/);
  });

  it('says how far behind the totals are, past a minute, in the table and on stderr for json', async () => {
    await db.pool.query(`INSERT INTO rollup_queue (report_id, queued_at) VALUES (-1, now() - interval '10 minutes')`);
    const table = await runCli(['stats', '--since', '1970-01-01'], env);
    assert.match(table.stdout, NOTE);
    assert.match(table.stdout, /tlsrpt worker/);
    const json = await runCli(['stats', '--since', '1970-01-01', '--format', 'json'], env);
    assert.ok(Array.isArray(JSON.parse(json.stdout)));
    assert.match(json.stderr, NOTE);
  });
});
