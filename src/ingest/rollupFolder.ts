/**
 * Folds what a backfill stores into the daily totals while it runs (src/rollup/foldRollups.ts, the worker's
 * rollup job), so that `tlsrpt stats` is right when the command ends and the fold's PostgreSQL time runs
 * beside the parsing of the next messages instead of after the last one.
 *
 * A fold costs PostgreSQL a fixed part per call and a part per report that grows when the planner's
 * statistics describe tables far smaller than they have become, which is what a backfill into a new
 * database makes. So a backfill folds in large batches, and runs ANALYZE on the tables it fills each time
 * they have doubled in size, as PostgreSQL advises after a bulk load ("Populating a Database"; autovacuum
 * gets there too, but a minute or more later). Into a database that already holds many reports, a backfill
 * changes the statistics little and analyzes nothing. The figures are in README "Measurements behind the
 * code".
 */
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { errorMessage, isServiceOutage } from '../errors.js';
import { foldRollups } from '../rollup/foldRollups.js';

/** Reports per fold while the backfill runs, and per transaction of the last fold. */
export const FOLD_BATCH = 5000;

/**
 * The tables whose statistics steer the report statement and the fold. ANALYZE samples a fixed number of
 * rows per table (and per month partition), so each run costs about the same however large they are.
 */
const ANALYZED_TABLES = 'reports, policies, failure_details, report_identities, rollup_queue';

export interface RollupFolder {
  /** `count` new reports were stored (and queued for the fold); folds in the background once a batch is queued. */
  stored(count: number): void;
  /** Waits for the fold in progress, then folds everything still queued. */
  finish(): Promise<void>;
}

/** The reports the planner's statistics counted (0 for partitions never analyzed), before this run's grow it. */
async function reportsBefore(pool: Pool): Promise<number> {
  const res = await pool.query<{ n: number }>(
    `SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8 AS n
     FROM pg_partition_tree('reports') t JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf`,
  );
  return res.rows[0]?.n ?? 0;
}

export function createRollupFolder(pool: Pool, log: Logger, options: { foldBatch?: number } = {}): RollupFolder {
  const foldBatch = options.foldBatch ?? FOLD_BATCH;
  let queued = 0;
  let stored = 0;
  let analyzedAt = 0;
  let running: Promise<void> | null = null;
  let before: Promise<number> | null = null;

  // The tables double when the reports stored by this run reach what they held before it (as the planner
  // last counted them) plus twice what this run had stored at its last ANALYZE.
  const analyzeIfGrown = async () => {
    if (stored < foldBatch || stored < 2 * analyzedAt) return;
    before ??= reportsBefore(pool);
    if (stored < (await before) + 2 * analyzedAt) return;
    analyzedAt = stored;
    try {
      await pool.query(`ANALYZE ${ANALYZED_TABLES}`);
    } catch (err) {
      // Statistics only make the fold cheaper; a role that may not analyze (or a lost race with DDL) folds anyway.
      if (isServiceOutage(err)) throw err;
      log.warn({ err: errorMessage(err) }, 'ingest: ANALYZE failed; folding without fresh statistics');
    }
  };

  const foldAlong = async () => {
    try {
      while (queued >= foldBatch) {
        queued -= foldBatch;
        await analyzeIfGrown();
        const { busy } = await foldRollups(pool, { batchReports: foldBatch, maxBatches: 1 });
        // Another process (a worker's rollup job) holds the fold: it folds the queue, ours included.
        if (busy) queued = 0;
      }
    } catch (err) {
      // finish() folds whatever is left, and reports a failure that lasts; the backfill goes on meanwhile.
      log.warn({ err: errorMessage(err) }, 'ingest: folding into the daily totals failed; trying again at the end');
    } finally {
      running = null;
    }
  };

  return {
    stored(count) {
      stored += count;
      queued += count;
      if (!running && queued >= foldBatch) running = foldAlong();
    },
    async finish() {
      while (running) await running;
      await analyzeIfGrown();
      await foldRollups(pool, { batchReports: foldBatch });
      queued = 0;
    },
  };
}
