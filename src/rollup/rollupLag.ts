/**
 * How far the rollups are behind: the age of the oldest report stored and not yet folded (0 when none is
 * waiting). A few seconds while the worker runs; it grows when no worker runs the rollup job, or the job
 * fails (its log says why). tlsrpt_rollup_lag_seconds in /metrics, and a line of `tlsrpt stats`.
 */
import type { Pool, PoolClient } from '../db/pool.js';

/** `tlsrpt stats` mentions the lag past this many seconds. */
export const ROLLUP_LAG_NOTICE_SECONDS = 60;

// The queue is in report id order, and ids follow storage order closely enough: one index probe, however
// long the queue has grown.
export const ROLLUP_LAG_SQL = `
SELECT coalesce(extract(epoch FROM now() - (SELECT queued_at FROM rollup_queue ORDER BY report_id LIMIT 1)), 0)::float8 AS lag,
       (SELECT count(*) FROM (SELECT 1 FROM rollup_queue LIMIT 1000000) q) AS waiting`;

export interface RollupLag {
  seconds: number;
  /** Reports waiting to be folded (counted up to a million). */
  waiting: number;
}

export async function readRollupLag(db: Pool | PoolClient): Promise<RollupLag> {
  const row = (await db.query<{ lag: number; waiting: number }>(ROLLUP_LAG_SQL)).rows[0];
  return { seconds: Math.max(0, row?.lag ?? 0), waiting: row?.waiting ?? 0 };
}

/** The line `tlsrpt stats` prints when the rollups are more than ROLLUP_LAG_NOTICE_SECONDS behind, else null. */
export function rollupLagNotice(lag: RollupLag): string | null {
  if (lag.seconds <= ROLLUP_LAG_NOTICE_SECONDS) return null;
  return (
    `Note: the daily totals are ${formatSeconds(lag.seconds)} behind (${lag.waiting} report${lag.waiting === 1 ? '' : 's'} not yet counted). ` +
    'They are folded in by the worker processes: check that a `tlsrpt worker` (or `tlsrpt serve`) runs, and its log.\n'
  );
}

function formatSeconds(s: number): string {
  if (s < 120) return `${Math.round(s)} seconds`;
  if (s < 7200) return `${Math.round(s / 60)} minutes`;
  if (s < 172_800) return `${Math.round(s / 3600)} hours`;
  return `${Math.round(s / 86_400)} days`;
}
