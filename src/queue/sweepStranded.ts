/**
 * Re-enqueues messages that are stored but neither processed nor queued: the receiver could not reach
 * Redis, Redis lost its data (it may run without persistence), or a job exhausted its retries while
 * Postgres was down. Adding a job that already exists is a no-op (the job id is the message id), so the
 * sweep never causes double processing, and several workers may sweep at once.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { listStrandedIds } from '../store/rawMessages.js';
import { enqueueMissing, type ReportJob } from './reportQueue.js';

export interface Sweeper {
  /** One pass; resolves with the number of messages (re-)enqueued. */
  sweepOnce(): Promise<number>;
  stop(): void;
}

const BATCH = 1000;

export function startSweeper(deps: { pool: Pool; queue: Queue<ReportJob>; redis: Redis; log: Logger }, intervalMs: number): Sweeper {
  // Only messages older than one interval: younger ones are normally still on their way through the queue.
  const minAgeMs = intervalMs;
  let running: Promise<number> | null = null;

  const sweepOnce = async (): Promise<number> => {
    let total = 0;
    let afterId = 0;
    let ids: number[];
    do {
      ids = await listStrandedIds(deps.pool, minAgeMs, BATCH, afterId);
      total += await enqueueMissing(deps.queue, deps.redis, ids);
      afterId = ids[ids.length - 1] ?? afterId;
    } while (ids.length === BATCH);
    if (total > 0) deps.log.info({ count: total }, 'sweep: enqueued stored messages that were not yet processed');
    return total;
  };

  const tick = () => {
    if (running) return;
    running = sweepOnce()
      .catch((err) => {
        deps.log.warn({ err: errorMessage(err) }, 'sweep failed; will try again');
        return 0;
      })
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return { sweepOnce, stop: () => clearInterval(timer) };
}
