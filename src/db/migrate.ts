import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { projectPath } from '../util/projectPath.js';

export const MIGRATIONS_TABLE = 'pgmigrations';
/** Where the SQL functions and views are defined once (migrations/definitions/README.md). */
export const DEFINITIONS_DIR = 'migrations/definitions';
/** Which content of each definitions file the database holds (migrations/0007). */
export const DEFINITIONS_TABLE = 'schema_definitions';
/** Serialises the definitions step across processes that start at once (any number unique to this use). */
const DEFINITIONS_LOCK_KEY = 72418654;

export interface MigrateResult {
  createdDatabase: boolean;
  applied: string[];
}

/**
 * Brings the database up to the latest migration, creating the database first when it does not exist
 * (so `npm start` works on a fresh machine), then applies the changed SQL definitions. Several processes may
 * start at once: node-pg-migrate holds an advisory lock, and we ask it to wait for it rather than fail; the
 * definitions step takes a lock of its own.
 */
export async function migrate(databaseUrl: string, log: (msg: string) => void = ignoreMessage): Promise<MigrateResult> {
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
      // Its per-statement chatter is not for the administrator; what it applied is logged below.
      log: ignoreMessage,
      logger: { debug: ignoreMessage, info: ignoreMessage, warn: (m: string) => log(m), error: (m: string) => log(m) },
    });
    for (const m of ran) log(`applied migration ${m.name}`);
    const defined = await applyDefinitions(client, log);
    for (const name of defined) log(`applied definitions ${name}`);
    return { createdDatabase, applied: [...ran.map((m) => m.name), ...defined.map((n) => `definitions/${n}`)] };
  } finally {
    await client.end();
  }
}

/**
 * Names of the migrations on disk that the database has not applied yet, then of the definitions files
 * (as "definitions/<file>") whose content differs from what the database holds.
 */
export async function pendingMigrations(client: pg.ClientBase): Promise<string[]> {
  const numbered = await numberedMigrations(client);
  const definitions = numbered.unknown.length > 0 ? [] : await changedDefinitions(client);
  return [...numbered.pending, ...definitions.map((f) => `definitions/${f.name}`)];
}

/** pending: on disk, not applied. unknown: applied, not on disk (the database was migrated by a newer version). */
async function numberedMigrations(client: pg.ClientBase): Promise<{ pending: string[]; unknown: string[] }> {
  const onDisk = readdirSync(projectPath('migrations'))
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.replace(/\.sql$/, ''))
    .sort();
  const exists = await client.query(`SELECT to_regclass($1) AS t`, [MIGRATIONS_TABLE]);
  const done = exists.rows[0].t
    ? new Set((await client.query(`SELECT name FROM ${MIGRATIONS_TABLE}`)).rows.map((r) => r.name as string))
    : new Set<string>();
  return { pending: onDisk.filter((n) => !done.has(n)), unknown: [...done].filter((n) => !onDisk.includes(n)).sort() };
}

interface DefinitionFile {
  name: string;
  sql: string;
  sha256: string;
}

let definitionFilesRead: DefinitionFile[] | undefined;

/** The definitions files in the order they are applied; read once per process (they ship with the code). */
function definitionFiles(): DefinitionFile[] {
  definitionFilesRead ??= readdirSync(projectPath(DEFINITIONS_DIR))
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((name) => {
      const sql = readFileSync(projectPath(`${DEFINITIONS_DIR}/${name}`), 'utf8');
      return { name, sql, sha256: createHash('sha256').update(sql).digest('hex') };
    });
  return definitionFilesRead;
}

/** File name -> SHA-256 of the content the database holds; empty before migration 0007. */
async function appliedDefinitions(client: pg.ClientBase): Promise<Map<string, string>> {
  const exists = await client.query(`SELECT to_regclass($1) AS t`, [DEFINITIONS_TABLE]);
  if (!exists.rows[0].t) return new Map();
  const rows = (await client.query<{ name: string; sha256: string }>(`SELECT name, sha256 FROM ${DEFINITIONS_TABLE}`)).rows;
  return new Map(rows.map((r) => [r.name, r.sha256]));
}

/**
 * The first file whose content the database does not hold, and every file after it: later files use what
 * earlier ones define (a view calls a rule function; the daily totals are rebuilt by their file when a rule
 * they apply changed).
 */
async function changedDefinitions(client: pg.ClientBase): Promise<DefinitionFile[]> {
  const files = definitionFiles();
  const applied = await appliedDefinitions(client);
  const first = files.findIndex((f) => applied.get(f.name) !== f.sha256);
  return first === -1 ? [] : files.slice(first);
}

/**
 * Applies the changed definitions files (migrations/definitions/README.md): after the numbered migrations,
 * because they are written against the latest tables. One transaction, so a file that fails leaves the
 * previous definitions in place; an advisory lock, so processes starting together apply them once (the
 * others find them recorded when they get the lock).
 */
async function applyDefinitions(client: pg.Client, log: (msg: string) => void): Promise<string[]> {
  if ((await changedDefinitions(client)).length === 0) return [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [DEFINITIONS_LOCK_KEY]);
    // A version older than the database (one still running during an upgrade, say) would put its own, older
    // definitions back: it leaves them to the version that migrated the database.
    const { unknown } = await numberedMigrations(client);
    if (unknown.length > 0) {
      log(`the database has migrations this version does not know (${unknown.join(', ')}): its SQL definitions are left as they are`);
      await client.query('ROLLBACK');
      return [];
    }
    const todo = await changedDefinitions(client);
    for (const f of todo) {
      try {
        await client.query(f.sql);
      } catch (err) {
        throw new Error(`${DEFINITIONS_DIR}/${f.name} failed, nothing was changed: ${(err as Error).message}`, { cause: err });
      }
      await client.query(
        `INSERT INTO ${DEFINITIONS_TABLE} (name, sha256) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, applied_at = now()`,
        [f.name, f.sha256],
      );
    }
    await client.query('COMMIT');
    return todo.map((f) => f.name);
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
      throw new AggregateError([err, rollbackErr], `${(err as Error).message} (and the rollback failed too)`);
    });
    throw err;
  }
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

/** For messages nobody asked for: a caller that wants them passes a log function. */
function ignoreMessage(): void {
  // Deliberately nothing: see the callers.
}
