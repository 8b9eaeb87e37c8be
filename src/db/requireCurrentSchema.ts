import { TlsrptError } from '../errors.js';
import type { Pool } from './pool.js';
import { pendingMigrations } from './migrate.js';

/**
 * The database lacks migrations or SQL definitions (migrations/definitions/) this version needs: say which
 * and how to apply them.
 */
export class SchemaNotCurrentError extends TlsrptError {
  override readonly name = 'SchemaNotCurrentError';
  readonly reason = 'schema-not-current';
  constructor(readonly pending: string[]) {
    super('schema-not-current', `the database schema is not current (pending: ${pending.join(', ')}); run "tlsrpt migrate" first`);
  }
}

/**
 * For commands that read or write the tables without migrating (stats, readiness, ingest): fail with the
 * command to run, rather than with "relation does not exist" halfway through.
 */
export async function requireCurrentSchema(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    const pending = await pendingMigrations(client);
    if (pending.length > 0) throw new SchemaNotCurrentError(pending);
  } finally {
    client.release();
  }
}
