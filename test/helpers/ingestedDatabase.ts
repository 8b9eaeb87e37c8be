/**
 * A test database holding the given reports, loaded as a user loads files: written to a temporary folder
 * and read with `tlsrpt ingest`. For the tests of commands that read stored reports (`tlsrpt stats`, ...).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from './runCli.js';
import { REDIS_URL } from './services.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

export interface IngestedDatabase {
  db: TestDatabase;
  /** What the commands need: the database, Redis, and a queue prefix of this test file's own. */
  env: Record<string, string>;
  /** Runs `tlsrpt ...args` against the database. */
  cli(...args: string[]): Promise<CliResult>;
}

/** `name` tells the test's queue prefix apart; asserts that ingest stored every report. */
export async function createIngestedDatabase(
  name: string,
  reports: ReadonlyArray<{ filename: string; json: object }>,
): Promise<IngestedDatabase> {
  const db = await createTestDatabase();
  const env = { DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: `test-${name}-${process.pid}` };
  const cli = (...args: string[]) => runCli(args, env);
  const dir = mkdtempSync(join(tmpdir(), `tlsrpt-${name}-`));
  try {
    for (const r of reports) writeFileSync(join(dir, r.filename), JSON.stringify(r.json));
    const loaded = await cli('ingest', dir, '--format', 'json');
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal(JSON.parse(loaded.stdout).stored, reports.length);
  } catch (err) {
    await db.drop();
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { db, env, cli };
}
