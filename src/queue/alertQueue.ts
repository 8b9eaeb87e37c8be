/**
 * The alerts' own BullMQ queue, apart from the report queue so that a destination being down never holds
 * up reports. Two kinds of job, each with a job id derived from its row, so enqueueing twice (the hook and
 * the periodic check) is harmless:
 * - evaluate-window: judge a window once it closes (delayed until then);
 * - deliver: send one alert to one destination, retried with exponential backoff.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { logQueueErrors } from './reportQueue.js';

export const ALERT_QUEUE = 'alerts';

export type AlertJob = { type: 'evaluate-window'; windowId: number } | { type: 'deliver'; deliveryId: number };

/** Evaluation only fails when PostgreSQL is down: retry for about an hour (1 s doubling, 12 attempts). */
const EVALUATE_OPTIONS: JobsOptions = {
  attempts: 12,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: true,
};

/** The job ids, named by their rows: enqueueing a row twice adds one job. */
export const windowJobId = (windowId: number): string => `window-${windowId}`;
export const deliveryJobId = (deliveryId: number): string => `delivery-${deliveryId}`;

export function createAlertQueue(connection: Redis, prefix: string, log?: Logger): Queue<AlertJob> {
  const queue = new Queue<AlertJob>(ALERT_QUEUE, { connection, prefix });
  logQueueErrors(queue, connection, log);
  return queue;
}

export async function enqueueWindowEvaluations(
  queue: Queue<AlertJob>,
  windows: Array<{ windowId: number; closesAt: Date }>,
): Promise<void> {
  if (!windows.length) return;
  await queue.addBulk(
    windows.map((w) => ({
      name: 'evaluate-window',
      data: { type: 'evaluate-window' as const, windowId: w.windowId },
      opts: { ...EVALUATE_OPTIONS, jobId: windowJobId(w.windowId), delay: Math.max(0, w.closesAt.getTime() - Date.now()) },
    })),
  );
}

/**
 * Failed delivery jobs are removed: the delivery's state lives in PostgreSQL, and a given-up delivery is
 * marked `failed` there before its job fails.
 */
export async function enqueueDeliveries(
  queue: Queue<AlertJob>,
  deliveryIds: number[],
  retry: { attempts: number; delayMs: number },
): Promise<void> {
  if (!deliveryIds.length) return;
  await queue.addBulk(
    deliveryIds.map((id) => ({
      name: 'deliver',
      data: { type: 'deliver' as const, deliveryId: id },
      opts: {
        jobId: deliveryJobId(id),
        attempts: retry.attempts,
        backoff: { type: 'exponential', delay: retry.delayMs },
        removeOnComplete: { count: 1000 },
        removeOnFail: true,
      },
    })),
  );
}
