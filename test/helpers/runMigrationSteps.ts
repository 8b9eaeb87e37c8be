/**
 * Numbered migrations a given number of steps up or down, for the tests of a down migration: back to the
 * schema before a migration (and every one after it), data written as that release wrote it, then up again.
 */
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { MIGRATIONS_TABLE } from '../../src/db/migrate.js';
import { projectPath } from '../../src/util/projectPath.js';

/** The numbered migrations on disk, in the order they apply. */
export const MIGRATION_FILES: readonly string[] = readdirSync(projectPath('migrations'))
  .filter((f) => f.endsWith('.sql'))
  .sort();

/** How many migrations to undo to get back to the schema before `number` ("0012"): it and every one after it. */
export function migrationsFrom(number: string): number {
  const index = MIGRATION_FILES.findIndex((f) => f.startsWith(`${number}_`));
  if (index === -1) throw new Error(`There is no migration ${number} in migrations/.`);
  return MIGRATION_FILES.length - index;
}

/** Runs `count` numbered migrations `direction` on the database at `url`, each in one transaction with the others. */
export async function runMigrationSteps(url: string, direction: 'up' | 'down', count: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await runner({
      dbClient: client,
      dir: projectPath('migrations'),
      migrationsTable: MIGRATIONS_TABLE,
      direction,
      count,
      checkOrder: true,
      singleTransaction: true,
      // node-pg-migrate's per-statement chatter; a failure still throws.
      log: () => undefined,
    });
  } finally {
    await client.end();
  }
}
