/**
 * The rollup job of a worker process: every ROLLUP_INTERVAL_MS, folds the queued reports into the rollups
 * (foldRollups.ts) and the settled raw messages into the message totals of /metrics
 * (src/metrics/messageTotals.ts). Every worker process runs one; the advisory lock lets one fold at a time,
 * and the others find it taken and wait for their next tick. At steady state the lag is at most about one
 * interval plus one batch.
 */
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { createRateLimitedLog } from '../log/rateLimitedLog.js';
import { createIdHistory, foldMessageTotals } from '../metrics/messageTotals.js';
import { FOLD_MARGIN_SECONDS } from '../metrics/pipelineTotals.js';
import { foldRollups } from './foldRollups.js';

export const ROLLUP_INTERVAL_MS = 1000;

export interface RollupJob {
  /** One pass now (the timer's passes wait for it); resolves with the reports folded. */
  runOnce(): Promise<number>;
  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void>;
}

export function startRollupJob(deps: { pool: Pool; log: Logger }, intervalMs: number = ROLLUP_INTERVAL_MS): RollupJob {
  const failures = createRateLimitedLog(deps.log, 'rollup: folding failed; will try again (the daily totals and /metrics lag meanwhile)');
  let running: Promise<number> | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const ids = createIdHistory();

  const pass = async (): Promise<number> => {
    const reports = await foldRollups(deps.pool);
    await foldMessageTotals(deps.pool, FOLD_MARGIN_SECONDS, ids);
    return reports.folded;
  };

  const runOnce = (): Promise<number> =>
    (running ??= pass().finally(() => {
      running = null;
    }));

  const tick = async () => {
    try {
      await runOnce();
      failures.settled('rollup: folding works again');
    } catch (err) {
      failures.report(err);
    }
    if (!stopped) schedule();
  };
  const schedule = () => {
    timer = setTimeout(() => void tick(), intervalMs);
    timer.unref();
  };
  schedule();

  return {
    runOnce,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => {
        // Its failure was logged by the tick that started it; stopping only waits for it to end.
      });
    },
  };
}
