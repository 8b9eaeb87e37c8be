/**
 * Folds the reports waiting in rollup_queue into the per-day totals and the metric totals, in batches, by
 * fold_rollups() (migrations/definitions/20_daily_totals.sql): each batch is one transaction that adds its
 * reports and takes them off the queue, so a report is counted exactly once even if the process dies
 * mid-batch (the batch is rolled back whole and folded again later). One process folds at a time (an
 * advisory lock): a worker that finds the lock taken leaves the queue to the one holding it.
 */
import type { Pool } from '../db/pool.js';

/** Reports per transaction: large enough that a batch costs about one round trip, small enough to be short. */
export const ROLLUP_BATCH_REPORTS = 1000;

export interface FoldResult {
  /** Reports folded by this call. */
  folded: number;
  /** Another process held the rollup lock, so this call stopped (it is folding the queue). */
  busy: boolean;
}

/** Folds until the queue is empty (or `maxBatches` batches), batch after batch. */
export async function foldRollups(pool: Pool, options: { batchReports?: number; maxBatches?: number } = {}): Promise<FoldResult> {
  const batch = options.batchReports ?? ROLLUP_BATCH_REPORTS;
  const maxBatches = options.maxBatches ?? Infinity;
  let folded = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = (await pool.query<{ n: number | null }>('SELECT fold_rollups($1) AS n', [batch])).rows[0]?.n ?? null;
    if (n === null) return { folded, busy: true };
    folded += n;
    if (n < batch) break;
  }
  return { folded, busy: false };
}
