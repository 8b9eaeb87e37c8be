import { readdirSync } from 'node:fs';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { projectPath } from '../util/projectPath.js';

export const MIGRATIONS_TABLE = 'pgmigrations';

export interface MigrateResult {
  createdDatabase: boolean;
  applied: string[];
}

/**
 * Brings the database up to the latest migration, creating the database first when it does not exist
 * (so `npm start` works on a fresh machine). Several processes may start at once: node-pg-migrate holds an
 * advisory lock, and we ask it to wait for it rather than fail.
 */
export async function migrate(databaseUrl: string, log?: (msg: string) => void): Promise<MigrateResult> {
  const createdDatabase = await ensureDatabase(databaseUrl);
  if (createdDatabase) log?.(`created database ${new URL(databaseUrl).pathname.slice(1)}`);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const ran = await runner({
      dbClient: client,
      dir: projectPath('migrations'),
      migrationsTable: MIGRATIONS_TABLE,
      direction: 'up',
      checkOrder: true,
      singleTransaction: true,
      advisoryLockMode: 'wait',
      // node-pg-migrate narrates every statement; what matters (the migrations applied) is logged below.
      log: () => undefined,
      logger: { debug: () => undefined, info: () => undefined, warn: (m: string) => log?.(m), error: (m: string) => log?.(m) },
    });
    for (const m of ran) log?.(`applied migration ${m.name}`);
    return { createdDatabase, applied: ran.map((m) => m.name) };
  } finally {
    await client.end();
  }
}

/** Names of the migrations on disk that the database has not applied yet. */
export async function pendingMigrations(client: pg.ClientBase): Promise<string[]> {
  const onDisk = readdirSync(projectPath('migrations'))
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.replace(/\.sql$/, ''))
    .sort();
  const exists = await client.query(`SELECT to_regclass($1) AS t`, [MIGRATIONS_TABLE]);
  if (!exists.rows[0].t) return onDisk;
  const done = new Set((await client.query(`SELECT name FROM ${MIGRATIONS_TABLE}`)).rows.map((r) => r.name as string));
  return onDisk.filter((n) => !done.has(n));
}

async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) return false;
  const probe = new pg.Client({ connectionString: databaseUrl });
  try {
    await probe.connect();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err; // 3D000: invalid_catalog_name (no such database)
  } finally {
    await probe.end(); // resolves once the socket is closed; never rejects, even after a failed connect
  }
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '42P04') return false; // created meanwhile by another process
    throw err;
  } finally {
    await admin.end();
  }
}
