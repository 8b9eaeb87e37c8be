/**
 * Re-enqueues messages that are stored but neither processed nor queued: the receiver could not reach
 * Redis, Redis lost its data (it may run without persistence), or a job exhausted its retries while
 * Postgres was down. Messages that a job in Redis carries are left alone (read from the job ids, which name
 * the messages), and adding a job that already exists is a no-op, so several workers may sweep at once; a
 * message queued twice anyway is processed once (a settled message is skipped).
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { listStrandedIds } from '../store/rawMessages.js';
import { enqueueMissing, queuedMessageIds, type ReportJob } from './reportQueue.js';

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
    // Read once per pass, before the stranded messages: a job that finishes meanwhile has settled its
    // messages (they are no longer listed), and new jobs carry messages younger than minAgeMs.
    const queued = await queuedMessageIds(deps.queue);
    do {
      ids = await listStrandedIds(deps.pool, minAgeMs, BATCH, afterId);
      total += await enqueueMissing(deps.queue, queued, ids);
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
