/**
 * The workers' own retention: every hour each worker process tries to take the retention lock; the one that
 * gets it creates the coming month partitions (./ensurePartitions.ts) and, when the last prune finished
 * more than PRUNE_EVERY_MS ago, prunes (./pruneData.ts). So however many workers run, one prune runs a day,
 * and a worker that was down through its turn is replaced by any other. `tlsrpt prune` takes the same lock.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { createPool, type Pool, type PoolClient } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { ensurePartitions } from './ensurePartitions.js';
import { lastPruneFinishedAt, pruneData, type PruneSummary } from './pruneData.js';
import type { RetentionSettings } from './retentionPlan.js';

/** Serialises prunes and partition creation across processes (any number unique to this use). */
const RETENTION_LOCK_KEY = 72418656;

export const CHECK_INTERVAL_MS = 3_600_000;
/** A little under a day, so that the hourly check does not drift a day late. */
export const PRUNE_EVERY_MS = 23 * 3_600_000;

/**
 * Runs fn holding the retention lock on `client` (a session lock: pruneData's DETACH ... CONCURRENTLY runs
 * outside a transaction). wait: false returns null at once when another process holds it.
 */
export async function withRetentionLock<T>(client: PoolClient, wait: boolean, fn: () => Promise<T>): Promise<T | null> {
  if (wait) await client.query('SELECT pg_advisory_lock($1)', [RETENTION_LOCK_KEY]);
  else if (!(await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [RETENTION_LOCK_KEY])).rows[0]?.ok) return null;
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK_KEY]);
  }
}

export interface RetentionJob {
  /** One check: partitions ahead, and the prune when it is due. Resolves with the prune's summary, if one ran. */
  runOnce(): Promise<PruneSummary | null>;
  /** Waits for a check in progress, then closes its connection. */
  stop(): Promise<void>;
}

export function startRetentionJob(
  deps: { databaseUrl: string; settings: RetentionSettings; log: Logger },
  intervalMs: number = CHECK_INTERVAL_MS,
): RetentionJob {
  // Its own connection: a prune lasts minutes, and the worker's pool is sized for the pipeline.
  const pool: Pool = createPool(deps.databaseUrl, { max: 1, applicationName: 'tlsrpt-retention', log: deps.log });
  let running: Promise<PruneSummary | null> | null = null;
  const stopping = new AbortController();
  /** The backend of the check in progress, for stop() to cancel its statement. */
  let backendPid: number | null = null;

  const check = async (): Promise<PruneSummary | null> => {
    const client = await pool.connect();
    try {
      backendPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const outcome = await withRetentionLock(client, false, async () => {
        const created = await ensurePartitions(client);
        if (created.length > 0) deps.log.info({ partitions: created }, 'retention: created month partitions ahead');
        const last = await lastPruneFinishedAt(client);
        if (last && Date.now() - last.getTime() < PRUNE_EVERY_MS) return null;
        const summary = await pruneData(client, deps.settings, {
          progress: (m) => deps.log.info(`retention: ${m}`),
          signal: stopping.signal,
        });
        deps.log.info(
          {
            rawBytesOf: summary.rawBytes.messages,
            quarantinedRemoved: summary.quarantined.messages,
            messageRowsRemoved: summary.messageRows.messages,
            monthsDropped: summary.months.map((m) => m.month),
            heldBack: summary.heldBack,
          },
          'retention: prune finished',
        );
        return summary;
      });
      return outcome ?? null;
    } finally {
      backendPid = null;
      client.release();
    }
  };

  const runOnce = (): Promise<PruneSummary | null> => {
    running ??= check().finally(() => {
      running = null;
    });
    return running;
  };

  const tick = () => {
    runOnce().catch((err: unknown) => {
      if (stopping.signal.aborted) deps.log.info('retention: prune interrupted by the stop; the next one finishes it');
      else deps.log.warn({ err: errorMessage(err) }, 'retention check failed; will try again in an hour');
    });
  };
  // At start (the partitions of the coming months, and a prune missed while no worker ran), then hourly.
  const first = setTimeout(tick, 0);
  const timer = setInterval(tick, intervalMs);
  first.unref();
  timer.unref();

  return {
    runOnce,
    stop: async () => {
      clearTimeout(first);
      clearInterval(timer);
      stopping.abort();
      // The prune ends after its statement in progress, which may last: its paced ANALYZE (a minute with a
      // year stored), or a DETACH waiting for a long reader. Cancelled, so that a stopping worker does not
      // outlast its shutdown timeout; what it leaves, the next prune finishes (pruneData).
      const pid = backendPid;
      if (running && pid !== null) {
        await cancelStatement(deps.databaseUrl, pid).catch((err: unknown) => {
          deps.log.warn({ err: errorMessage(err) }, 'retention: could not cancel the prune in progress; waiting for it');
        });
      }
      // A failure of the check in progress was logged by tick; stopping only waits for it to end.
      await running?.catch(() => null);
      await pool.end();
    },
  };
}

/** Cancels the statement that backend `pid` runs, from a connection of its own (the job's pool has one). */
async function cancelStatement(databaseUrl: string, pid: number): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'tlsrpt-retention-stop' });
  await client.connect();
  try {
    await client.query('SELECT pg_cancel_backend($1)', [pid]);
  } finally {
    await client.end();
  }
}
