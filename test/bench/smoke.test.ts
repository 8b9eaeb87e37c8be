/**
 * Keeps `npm run bench` working: the whole bench with tiny sizes (BENCH_SMOKE=1, and smaller BENCH_* sizes
 * still: each figure comes from real work, just less of it), as a real subprocess against the real services.
 * Asserts every scenario reported finite figures and the bench removed its database. The figures themselves are not asserted: at these sizes they measure start-up, not throughput.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { projectPath } from '../../src/util/projectPath.js';
import { PG_URL_BASE, REDIS_URL, requireServices } from '../helpers/services.js';
import { loadFactor } from '../helpers/waitFor.js';

/**
 * BENCH_SMOKE's sizes cut further: 11.7 s of CPU instead of 13 s, and a fifth less wall time (89 s instead of
 * 110 s at load 21-24). Three bench processes at once, one per group of scenarios, more than halved the wall
 * time on a busy machine but cost 6 to 8 s more CPU in start-ups, which the other files running beside it on
 * two cores pay for.
 */
const TINY = {
  BENCH_REPORTS: '8',
  BENCH_REUSED_CONNECTIONS: '2',
  BENCH_NEW_CONNECTIONS: '2',
  BENCH_STAGE_REPORTS: '4',
  BENCH_SCALE_ROWS: '200',
  BENCH_MEMORY_DETAILS: '100',
  BENCH_IMAP_MESSAGES: '10',
};

describe('npm run bench (smoke)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-bench-smoke-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every scenario, prints the table, writes results.json and drops its database', async () => {
    await requireServices();
    const resultsPath = join(dir, 'results.json');
    const r = spawnSync(process.execPath, ['--import', 'tsx', projectPath('bench/run.ts')], {
      env: {
        ...process.env,
        ...TINY,
        BENCH_SMOKE: '1',
        BENCH_RESULTS: resultsPath,
        BENCH_DATABASE_URL_BASE: PG_URL_BASE,
        BENCH_REDIS_URL: REDIS_URL,
      },
      encoding: 'utf8',
      timeout: Math.round(120_000 * loadFactor()),
    });
    assert.equal(r.status, 0, `bench exited ${r.status}: ${r.stderr}`);
    assert.match(r.stdout, /^scenario\s+figure\s+median/m);

    const results = JSON.parse(readFileSync(resultsPath, 'utf8')) as {
      figures: Array<{ scenario: string; name: string; value: number; runs: number[] }>;
    };
    const scenarios = new Set(results.figures.map((f) => f.scenario));
    assert.deepEqual([...scenarios].sort(), [
      'certs',
      'dashboard',
      'e2e',
      'imap',
      'ingest',
      'memory',
      'scale',
      'scrape',
      'stages',
      'worker',
    ]);
    // 3 SMTP senders and 1 HTTPS sender x 1 topology (the smoke run skips the multi-process topology).
    assert.equal(results.figures.filter((f) => f.scenario === 'e2e').length, 4);
    for (const f of results.figures) {
      assert.ok(Number.isFinite(f.value) && f.value > 0, `${f.scenario} / ${f.name}: ${f.value}`);
      assert.ok(f.runs.length >= 1);
    }

    const admin = new pg.Client({ connectionString: `${PG_URL_BASE}/postgres` });
    await admin.connect();
    try {
      const left = await admin.query(`SELECT datname FROM pg_database WHERE datname = $1`, [`tlsrpt_bench_${r.pid}`]);
      assert.equal(left.rowCount, 0, 'the bench database was dropped');
    } finally {
      await admin.end();
    }
  });
});
