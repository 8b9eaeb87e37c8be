/**
 * Keeps `npm run bench` working: the whole bench with tiny sizes (BENCH_SMOKE=1 and smaller BENCH_* sizes),
 * as real subprocesses against the real services. The scenarios run in three bench processes at once
 * (BENCH_ONLY), each with its own database and queue prefix, since most of a smoke run is waiting (process
 * start-ups, polls) rather than work. Asserts every scenario reported finite figures and each bench removed
 * its database. The figures themselves are not asserted: at these sizes they measure start-up, not throughput.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { SCENARIOS } from '../../bench/run.js';
import { projectPath } from '../../src/util/projectPath.js';
import { PG_URL_BASE, REDIS_URL, requireServices } from '../helpers/services.js';
import { loadFactor } from '../helpers/waitFor.js';

/** Scenarios that run together, about equally long; a scenario not named here joins the last group. */
const GROUPS = [
  ['e2e', 'worker', 'stages', 'scrape'],
  ['scale', 'memory', 'imap'],
  ['ingest', 'dashboard'],
];

/** Smaller than BENCH_SMOKE's own sizes: each figure still comes from real work, just less of it. */
const TINY = {
  BENCH_REPORTS: '8',
  BENCH_REUSED_CONNECTIONS: '2',
  BENCH_NEW_CONNECTIONS: '2',
  BENCH_STAGE_REPORTS: '4',
  BENCH_SCALE_ROWS: '200',
  BENCH_MEMORY_DETAILS: '100',
  BENCH_IMAP_MESSAGES: '10',
};

interface BenchRun {
  only: string[];
  pid: number;
  status: number | null;
  stdout: string;
  stderr: string;
  resultsPath: string;
}

function runBench(only: string[], resultsPath: string): Promise<BenchRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', projectPath('bench/run.ts')], {
      env: {
        ...process.env,
        ...TINY,
        BENCH_SMOKE: '1',
        BENCH_ONLY: only.join(','),
        BENCH_RESULTS: resultsPath,
        BENCH_DATABASE_URL_BASE: PG_URL_BASE,
        BENCH_REDIS_URL: REDIS_URL,
      },
      timeout: 120_000 * loadFactor(),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (status) => resolve({ only, pid: child.pid!, status, stdout, stderr, resultsPath }));
  });
}

describe('npm run bench (smoke)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-bench-smoke-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every scenario, prints the table, writes results.json and drops its database', async () => {
    await requireServices();
    const names = SCENARIOS.map((s) => s.name);
    const groups = GROUPS.map((g) => g.filter((n) => names.includes(n)));
    groups[groups.length - 1]!.push(...names.filter((n) => !GROUPS.flat().includes(n)));
    const runs = await Promise.all(groups.map((only, i) => runBench(only, join(dir, `results-${i}.json`))));

    const figures: Array<{ scenario: string; name: string; value: number; runs: number[] }> = [];
    for (const r of runs) {
      assert.equal(r.status, 0, `bench (${r.only.join(', ')}) exited ${r.status}: ${r.stderr}`);
      assert.match(r.stdout, /^scenario\s+figure\s+median/m);
      figures.push(...(JSON.parse(readFileSync(r.resultsPath, 'utf8')) as { figures: typeof figures }).figures);
    }
    const scenarios = new Set(figures.map((f) => f.scenario));
    assert.deepEqual([...scenarios].sort(), ['certs', 'dashboard', 'e2e', 'imap', 'ingest', 'memory', 'scale', 'scrape', 'stages', 'worker']);
    // 3 SMTP senders and 1 HTTPS sender x 1 topology (the smoke run skips the multi-process topology).
    assert.equal(figures.filter((f) => f.scenario === 'e2e').length, 4);
    for (const f of figures) {
      assert.ok(Number.isFinite(f.value) && f.value > 0, `${f.scenario} / ${f.name}: ${f.value}`);
      assert.ok(f.runs.length >= 1);
    }

    const admin = new pg.Client({ connectionString: `${PG_URL_BASE}/postgres` });
    await admin.connect();
    try {
      const databases = runs.map((r) => `tlsrpt_bench_${r.pid}`);
      const left = await admin.query(`SELECT datname FROM pg_database WHERE datname = ANY($1)`, [databases]);
      assert.deepEqual(left.rows, [], 'every bench database was dropped');
    } finally {
      await admin.end();
    }
  });
});
