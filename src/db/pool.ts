import pg from 'pg';
import type { Logger } from 'pino';
import { markServiceOutage } from '../errors.js';
import { createRateLimitedLog, fallbackLogger } from '../log/rateLimitedLog.js';

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
  /** Where lost connections are logged (rate-limited); without one, warnings go to stderr. */
  log?: Logger;
}

/** Clients whose connection failed: whatever they raise afterwards ("not queryable") is the same outage. */
const lostClients = new WeakSet<pg.ClientBase>();

type ConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void;

export function createPool(databaseUrl: string, options: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'tlsrpt',
    ...(options.keyedLookups ? { options: '-c enable_seqscan=off' } : {}),
  });
  watchForOutages(pool, options.log ?? fallbackLogger());
  return pool;
}

/**
 * pg raises its own failures with nothing but a message: "Connection terminated unexpectedly", pg-pool's
 * "timeout exceeded when trying to connect". They are marked as outages here, where their kind is known,
 * so that isServiceOutage never reads message text:
 * - every error a client emits as an event is a failure of its connection (pg emits query errors only to the
 *   query), and pg hands the same error object to the queries the connection had queued, after the event;
 * - every error of connecting that is not an answer from PostgreSQL (a DatabaseError with its own SQLSTATE,
 *   e.g. 28P01 for a wrong password) is a failure to reach it, including connecting while the pool shuts down.
 */
function watchForOutages(pool: pg.Pool, log: Logger): void {
  const lost = createRateLimitedLog(log, 'PostgreSQL connection lost; the next query connects again');
  pool.on('connect', (client) => {
    // A listener on every client, also while checked out: without one, pg's error event would crash the process.
    client.on('error', (err) => {
      lostClients.add(client);
      markServiceOutage(err);
    });
  });
  // Idle clients: nothing else hears of their loss.
  pool.on('error', (err) => lost.report(err));

  const connect = pool.connect.bind(pool) as (callback: ConnectCallback) => void;
  const markConnectError = (err: Error | undefined): Error | undefined => {
    if (err && !(err instanceof pg.DatabaseError)) markServiceOutage(err);
    return err;
  };
  // pool.query connects through this.connect too, so both ways of querying pass here.
  pool.connect = ((callback?: ConnectCallback) => {
    if (callback) return connect((err, client, done) => callback(markConnectError(err), client, done));
    return new Promise<pg.PoolClient>((resolve, reject) => {
      connect((err, client) => (err || !client ? reject(markConnectError(err)) : resolve(client)));
    });
  }) as pg.Pool['connect'];
}

export interface TransactionOptions {
  /** As PoolOptions.keyedLookups, for one transaction (SET LOCAL) on a connection that also runs other work. */
  keyedLookups?: boolean;
}

/** Runs fn inside BEGIN/COMMIT; rolls back and rethrows on any error. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // One round trip either way: a simple query may hold several statements.
    await client.query(options.keyedLookups ? 'BEGIN; SET LOCAL enable_seqscan = off' : 'BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A lost connection fails every later statement with a new, unmarked error ("not queryable").
    if (lostClients.has(client)) markServiceOutage(err);
    // When ROLLBACK fails too, the connection is unusable: the client is destroyed instead of going back to
    // the pool, and the caller sees the error that ended the transaction, not this consequence of it.
    broken = await client.query('ROLLBACK').then(
      () => undefined,
      (rollbackErr: unknown) => (rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr))),
    );
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Runs fn on a connection of its own, for work that manages its own transaction (several statements in one
 * round trip, an early ROLLBACK). On any error, rolls back whatever fn left open and destroys the connection
 * instead of returning it to the pool; rethrows.
 */
export async function withConnection<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    return await fn(client);
  } catch (err) {
    broken = true;
    await client.query('ROLLBACK').catch(() => {
      // The client is destroyed below (release(true)), which ends the transaction with its connection anyway.
    });
    throw err;
  } finally {
    client.release(broken);
  }
}
