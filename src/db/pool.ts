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
  /**
   * For connections that only ever look rows up by key (the worker's): sequential scans are priced out
   * (enable_seqscan = off), whatever the table statistics say. Their plans are cached per connection, and a
   * plan made while the tables were new and not yet analyzed would otherwise read a table whole, a cost that
   * grows with every row stored until autovacuum's next ANALYZE. Every lookup they make has an index.
   */
  keyedLookups?: boolean;
}

export function createPool(databaseUrl: string, options: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'tlsrpt',
    ...(options.keyedLookups ? { options: '-c enable_seqscan=off' } : {}),
  });
  // An idle client losing its connection (Postgres restarted) must not crash the process: the next query
  // gets a fresh client, and the failure is reported there.
  pool.on('error', () => {});
  return pool;
}

export interface TransactionOptions {
  /** As PoolOptions.keyedLookups, for one transaction (SET LOCAL) on a connection that also runs other work. */
  keyedLookups?: boolean;
}

/** Runs fn inside BEGIN/COMMIT; rolls back and rethrows on any error. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const client = await pool.connect();
  try {
    // One round trip either way: a simple query may hold several statements.
    await client.query(options.keyedLookups ? 'BEGIN; SET LOCAL enable_seqscan = off' : 'BEGIN');
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
