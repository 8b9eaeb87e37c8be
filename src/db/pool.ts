import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// bigint columns (ids, counts) come back as JS numbers: ids and session counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface PoolOptions {
  max?: number;
  /** Fail fast when Postgres is unreachable, so the SMTP reply can be 451 while the sender still waits. */
  connectionTimeoutMillis?: number;
  applicationName?: string;
}

export function createPool(databaseUrl: string, options: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'tlsrpt',
  });
  // An idle client losing its connection (Postgres restarted) must not crash the process: the next query
  // gets a fresh client, and the failure is reported there.
  pool.on('error', () => {});
  return pool;
}

/** Runs fn inside BEGIN/COMMIT; rolls back and rethrows on any error. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
