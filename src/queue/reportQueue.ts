/**
 * The BullMQ queue between the receivers and the worker. One job per stored raw message, with the job id
 * derived from the message id, so enqueueing the same message twice (receiver + sweep, two sweeps) is
 * harmless: BullMQ keeps the first job with a given id.
 */
import { Queue, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { errorMessage, isServiceOutage } from '../errors.js';
import { createRateLimitedLog, fallbackLogger, type RateLimitedLog } from '../log/rateLimitedLog.js';

export const REPORT_QUEUE = 'raw-messages';

export interface ReportJob {
  rawMessageId: number;
  /** Stalls of this job already counted as attempts (src/services/workerService.ts stalledSinceLastRun). */
  stallsCounted?: number;
}

export function jobIdFor(rawMessageId: number): string {
  return `raw-${rawMessageId}`;
}

/** The custom backoff of report jobs; every Worker of the queue passes outageBackoff as its backoffStrategy. */
export const OUTAGE_BACKOFF = 'outage';
/** First retry after 1 s, doubling up to this: a long outage costs one attempt per job every 5 minutes. */
export const OUTAGE_BACKOFF_MAX_MS = 300_000;

/**
 * Retries cover service outages (Postgres down, disk full, Redis down; processMessage decides) without a
 * limit that matters: a million attempts at most 5 minutes apart is years. A disk-full fault of 30 s left 533
 * of 1,500 messages quarantined for good (issue 15 finding 2); now they wait and continue when it clears.
 * Unexpected errors (bugs) are limited separately, by WORKER_MAX_ATTEMPTS counted in raw_messages. Failed
 * jobs are removed so that the sweep can add the message again: it stays `pending` and is never dropped.
 */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 1_000_000,
  backoff: { type: OUTAGE_BACKOFF },
  removeOnComplete: { count: 1000 },
  removeOnFail: true,
};

/**
 * Exponential from 1 s, capped at OUTAGE_BACKOFF_MAX_MS, with up to 20 % taken off at random so that the
 * jobs of a backlog do not all retry in the same second when the database returns.
 */
export function outageBackoff(attemptsMade: number, random: () => number = Math.random): number {
  const exponential = 1000 * 2 ** Math.min(Math.max(attemptsMade - 1, 0), 30);
  const capped = Math.min(exponential, OUTAGE_BACKOFF_MAX_MS);
  return Math.round(capped * (1 - 0.2 * random()));
}

/**
 * A connection for producers: fails fast instead of queueing commands while Redis is down, so a Redis outage
 * costs a log line, not a hung SMTP transaction. Without a logger, connection errors go to stderr.
 */
export function createProducerConnection(redisUrl: string, log: Logger = fallbackLogger()): Redis {
  const conn = new Redis(redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 5000),
  });
  watchConnection(conn, log);
  return conn;
}

/** A connection for workers: BullMQ requires maxRetriesPerRequest null for its blocking commands. */
export function createWorkerConnection(redisUrl: string, log: Logger = fallbackLogger()): Redis {
  const conn = new Redis(redisUrl, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 200, 5000),
  });
  watchConnection(conn, log);
  return conn;
}

const connectionLogs = new WeakMap<Redis, RateLimitedLog>();

/**
 * ioredis reconnects by itself and emits an error for every failed attempt (every few seconds while Redis is
 * down); callers see their own commands fail. So the attempts are logged rate-limited, and the reconnection too.
 */
function watchConnection(conn: Redis, log: Logger): RateLimitedLog {
  const limited = createRateLimitedLog(log, 'Redis connection error; reconnecting');
  connectionLogs.set(conn, limited);
  conn.on('error', (err) => limited.report(err, { redis: conn.options.host }));
  conn.on('ready', () => limited.settled('Redis connection restored'));
  return limited;
}

/**
 * A BullMQ queue or worker re-emits its connection's errors (a worker also those of the blocking connection it
 * makes from it): those are logged with the connection's own rate limit, which counts an error object once
 * however many emitters pass it on. Any other error (a lost job lock, a script error) is logged as it comes.
 */
export function logQueueErrors(
  emitter: { name: string; on(event: 'error', listener: (err: Error) => void): unknown },
  connection: Redis,
  log: Logger = fallbackLogger(),
): void {
  const limited = connectionLogs.get(connection) ?? watchConnection(connection, log);
  emitter.on('error', (err: Error) => {
    if (isServiceOutage(err)) limited.report(err, { queue: emitter.name });
    else log.error({ queue: emitter.name, err: errorMessage(err) }, 'queue error');
  });
}

export function createReportQueue(connection: Redis, prefix: string, log?: Logger): Queue<ReportJob> {
  const queue = new Queue<ReportJob>(REPORT_QUEUE, { connection, prefix, defaultJobOptions: JOB_OPTIONS });
  logQueueErrors(queue, connection, log);
  return queue;
}

export async function enqueueRawMessages(queue: Queue<ReportJob>, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await queue.addBulk(ids.map((id) => ({ name: 'process', data: { rawMessageId: id }, opts: { jobId: jobIdFor(id) } })));
}

/**
 * Enqueues those of `ids` that have no job in Redis (one pipelined EXISTS per batch), so that a sweep
 * during a large backlog does not re-add every waiting job. Returns how many were added.
 */
export async function enqueueMissing(queue: Queue<ReportJob>, redis: Redis, ids: number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.exists(queue.toKey(jobIdFor(id)));
  const results = (await pipeline.exec()) ?? [];
  const missing = ids.filter((_, i) => results[i]?.[1] === 0);
  await enqueueRawMessages(queue, missing);
  return missing.length;
}
