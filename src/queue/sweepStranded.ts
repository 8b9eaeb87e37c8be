/**
 * Re-enqueues messages that are stored but neither processed nor queued: the receiver could not reach
 * Redis, Redis lost its data (it may run without persistence), or a job exhausted its retries while
 * Postgres was down. Messages that a job in Redis carries are left alone (read from the job ids, which name
 * the messages), and adding a job that already exists is a no-op, so several workers may sweep at once; a
 * message queued twice anyway is processed once (a settled message is skipped).
 *
 * When it sweeps:
 * - every interval, for messages older than one interval (younger ones are normally still on their way);
 * - at start-up and whenever the Redis connection becomes ready again, for messages older than a few
 *   seconds: a Redis that restarted without persistence has lost every job, and a worker that starts has
 *   no reason to wait a whole interval (60-120 s before, issue 15 finding 6). Sweeping a message whose job
 *   is merely late costs, at worst, a job that finds the message settled and skips it.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { listStrandedIds } from '../store/rawMessages.js';
import { enqueueMissing, queuedMessageIds, type ReportJob } from './reportQueue.js';

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

  /** Passes run one at a time, whoever asks: two at once would each queue what the other is queueing. */
  let chain: Promise<unknown> = Promise.resolve();
  const sweepOnce = (minAgeMs = intervalMs): Promise<number> => {
    const pass = chain.then(() => sweepPass(minAgeMs));
    chain = pass.catch(() => 0); // the caller of this pass gets its error; the next pass runs anyway
    return pass;
  };

  const sweepPass = async (minAgeMs: number): Promise<number> => {
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
      await chain;
    },
    stop: () => {
      stopped = true;
      clearInterval(timer);
      deps.redis.off('ready', onReady);
    },
  };
}
