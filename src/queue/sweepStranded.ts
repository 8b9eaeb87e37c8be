/**
 * Re-enqueues messages that are stored but neither processed nor queued: the receiver could not reach
 * Redis, Redis lost its data (it may run without persistence), or a job exhausted its retries while
 * Postgres was down. Adding a job that already exists is a no-op (the job id is the message id), so the
 * sweep never causes double processing, and several workers may sweep at once.
 *
 * When it sweeps:
 * - every interval, for messages older than one interval (younger ones are normally still on their way);
 * - at start-up and whenever the Redis connection becomes ready again, for messages older than a few
 *   seconds: a Redis that restarted without persistence has lost every job, and a worker that starts has
 *   no reason to wait a whole interval (60-120 s before, issue 15 finding 6). Sweeping a message whose job
 *   is merely late costs one EXISTS and, at worst, a job that finds the message settled and skips it.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { listStrandedIds } from '../store/rawMessages.js';
import { enqueueMissing, type ReportJob } from './reportQueue.js';

export interface Sweeper {
  /** One pass over messages older than `minAgeMs` (default: one interval); resolves with the number (re-)enqueued. */
  sweepOnce(minAgeMs?: number): Promise<number>;
  /** Resolves when the sweep started at start-up (or the one running) has finished. */
  settled(): Promise<void>;
  stop(): void;
}

const BATCH = 1000;

/** Minimum age of a message swept at start-up or on reconnection: the receiver enqueues within milliseconds. */
export const PROMPT_SWEEP_MIN_AGE_MS = 2000;

export function startSweeper(deps: { pool: Pool; queue: Queue<ReportJob>; redis: Redis; log: Logger }, intervalMs: number): Sweeper {
  let running: Promise<number> | null = null;
  /** A prompt sweep asked for while one was running: run it after. */
  let again: number | null = null;
  let stopped = false;

  const sweepOnce = async (minAgeMs = intervalMs): Promise<number> => {
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

  const tick = (minAgeMs: number, why: string) => {
    if (stopped) return;
    if (running) {
      again = Math.min(again ?? minAgeMs, minAgeMs);
      return;
    }
    running = sweepOnce(minAgeMs)
      .catch((err) => {
        deps.log.warn({ err: errorMessage(err), sweep: why }, 'sweep failed; will try again');
        return 0;
      })
      .finally(() => {
        running = null;
        if (again !== null) {
          const next = again;
          again = null;
          tick(next, 'queued');
        }
      });
  };
  const timer = setInterval(() => tick(intervalMs, 'interval'), intervalMs);
  timer.unref();
  // 'ready' comes after the first connection and after every reconnection.
  const onReady = () => tick(PROMPT_SWEEP_MIN_AGE_MS, 'redis-ready');
  deps.redis.on('ready', onReady);
  if (deps.redis.status === 'ready') onReady();

  return {
    sweepOnce,
    async settled() {
      while (running) await running;
    },
    stop: () => {
      stopped = true;
      clearInterval(timer);
      deps.redis.off('ready', onReady);
    },
  };
}
