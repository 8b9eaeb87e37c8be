/**
 * A fresh database per test file, cloned from a migrated template (fast: CREATE DATABASE ... TEMPLATE),
 * so test files run in parallel and leave nothing behind. The template name carries a hash of every file
 * under migrations/ (the numbered migrations and the SQL definitions), so a change to any gets a new template.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { projectPath } from '../../src/util/projectPath.js';
import { PG_URL_BASE, requireServices } from './services.js';
import { loadFactor } from './waitFor.js';

export interface TestDatabase {
  url: string;
  name: string;
  pool: Pool;
  drop(): Promise<void>;
}

function templateName(): string {
  const dir = projectPath('migrations');
  const hash = createHash('sha256');
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
  for (const f of files) hash.update(f).update(readFileSync(join(dir, f)));
  return `tlsrpt_test_tpl_${hash.digest('hex').slice(0, 12)}`;
}

function urlFor(db: string): string {
  return `${PG_URL_BASE}/${db}`;
}

async function adminQuery<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor('postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function ensureTemplate(name: string): Promise<void> {
  await adminQuery(async (c) => {
    // Serialise template creation across parallel test files (and parallel checkouts on one machine).
    await c.query('SELECT pg_advisory_lock(72418653)');
    try {
      const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount) return;
      const building = `${name}_build_${randomBytes(3).toString('hex')}`;
      await migrate(urlFor(building));
      await c.query(`ALTER DATABASE ${pg.escapeIdentifier(building)} RENAME TO ${pg.escapeIdentifier(name)}`);
    } finally {
      await c.query('SELECT pg_advisory_unlock(72418653)');
    }
  });
}

export async function createTestDatabase(): Promise<TestDatabase> {
  await requireServices();
  const template = templateName();
  await ensureTemplate(template);
  const name = `tlsrpt_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await adminQuery((c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`));
      break;
    } catch (err) {
      // "source database is being accessed by other users": another file is cloning at this instant.
      if ((err as { code?: string }).code !== '55006' || attempt > 20) throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  const url = urlFor(name);
  // The pool's 5 s connect limit is for the service's 451; the test's own reads only need to get through.
  const pool = createPool(url, { max: 5, connectionTimeoutMillis: Math.round(5000 * loadFactor()) });
  return {
    url,
    name,
    pool,
    async drop() {
      if (!pool.ending) await pool.end(); // end() rejects only when called twice
      await adminQuery((c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
    },
  };
}
