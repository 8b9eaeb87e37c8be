/**
 * The BullMQ queue between the receivers and the worker. One job carries the ids of up to JOB_MAX_MESSAGES
 * stored raw messages (a receiver's group commit), so Redis and the worker pay one job's round trips for
 * many reports. The message row stays the record: each message keeps its own state, outcome, attempts and
 * quarantine (src/store/messageState.ts); the job is only the hand-over. The job id is derived from the
 * message ids it carries (`raw-17`, `raw-17..48`), so enqueueing the same messages twice (two sweeps) is
 * harmless: BullMQ keeps the first job with a given id, and the sweep reads from the ids which messages
 * are queued (queuedMessageIds).
 */
import { Queue, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { removeFinishedJobs } from './finishedJobs.js';
import { errorMessage, isServiceOutage } from '../errors.js';
import { createRateLimitedLog, fallbackLogger, type RateLimitedLog } from '../log/rateLimitedLog.js';

export const REPORT_QUEUE = 'raw-messages';

export interface ReportJob {
  rawMessageIds: number[];
  /** Stalls of this job already counted as attempts (src/services/workerService.ts stalledSinceLastRun). */
  stallsCounted?: number;
}

/**
 * The job of the release before jobs carried several messages: one message per job. Such jobs may still wait
 * in Redis when a worker of this release starts, and are processed like any other (messageIdsOf).
 */
interface SingleMessageJob {
  rawMessageId: number;
}

/** The message ids a job carries, whichever release queued it. */
export function messageIdsOf(data: ReportJob | SingleMessageJob): number[] {
  return 'rawMessageIds' in data ? data.rawMessageIds : [data.rawMessageId];
}

/**
 * Messages per job at most. Half of WORKER_CONCURRENCY's default, so that a worker holds two jobs at once
 * (one decoded while the other is stored) and two workers share a backlog instead of one taking all of it.
 */
export const JOB_MAX_MESSAGES = 32;

const JOB_ID_PREFIX = 'raw-';

/**
 * The job id of a group of messages: their ids as ascending runs, `raw-17` for one message (as before jobs
 * carried several), `raw-17..48` for a run, `raw-17..30,32..48` with gaps. A group commit draws consecutive
 * ids, so the id is short; BullMQ forbids `:` in custom ids, and these have none.
 */
export function jobIdFor(rawMessageIds: number | readonly number[]): string {
  const ids = typeof rawMessageIds === 'number' ? [rawMessageIds] : [...rawMessageIds].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < ids.length;) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1]! <= ids[j]! + 1) j++;
    runs.push(ids[i] === ids[j] ? `${ids[i]}` : `${ids[i]}..${ids[j]}`);
    i = j + 1;
  }
  return JOB_ID_PREFIX + runs.join(',');
}

/** The id runs [first, last] a job id of jobIdFor names; none for an id of another form. */
export function messageRunsOf(jobId: string): Array<[number, number]> {
  if (!jobId.startsWith(JOB_ID_PREFIX)) return [];
  const runs: Array<[number, number]> = [];
  for (const run of jobId.slice(JOB_ID_PREFIX.length).split(',')) {
    const m = /^([0-9]+)(?:\.\.([0-9]+))?$/.exec(run);
    if (!m) return [];
    runs.push([Number(m[1]), Number(m[2] ?? m[1])]);
  }
  return runs;
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

/** The jobs that carry `ids`: up to JOB_MAX_MESSAGES each, named by their messages (jobIdFor). */
function jobsFor(ids: readonly number[]): Array<{ name: string; data: ReportJob; opts: { jobId: string } }> {
  const jobs = [];
  for (let i = 0; i < ids.length; i += JOB_MAX_MESSAGES) {
    const rawMessageIds = ids.slice(i, i + JOB_MAX_MESSAGES);
    jobs.push({ name: 'process', data: { rawMessageIds }, opts: { jobId: jobIdFor(rawMessageIds) } });
  }
  return jobs;
}

/**
 * Queues `ids` in jobs of up to JOB_MAX_MESSAGES, in one round trip to Redis. One job (a group commit of up
 * to 32 messages, the usual case) is one `add`: addBulk wraps even one job in MULTI/EXEC through an ioredis
 * pipeline, three commands instead of one and a pipeline object built per call.
 */
export async function enqueueRawMessages(queue: Queue<ReportJob>, ids: readonly number[]): Promise<void> {
  await addJobs(queue, jobsFor(ids));
}

async function addJobs(queue: Queue<ReportJob>, jobs: ReturnType<typeof jobsFor>): Promise<void> {
  if (jobs.length === 0) return;
  if (jobs.length === 1) await queue.add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts);
  else await queue.addBulk(jobs);
}

/** The job states in which a job still stands for its messages: it will run, or runs now (a paused queue's jobs wait). */
const LIVE_STATES = ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'] as const;

/**
 * Which message ids the jobs in Redis carry, read from the job ids alone (one list read per state, no job
 * hash): `has(id)` answers in O(log jobs). A job id of another form (none are made) covers nothing.
 */
export async function queuedMessageIds(queue: Queue<ReportJob>): Promise<{ has(id: number): boolean }> {
  const jobIds = await queue.getRanges([...LIVE_STATES], 0, -1);
  const runs = jobIds.flatMap((id) => messageRunsOf(id)).sort((a, b) => a[0] - b[0]);
  // Runs may overlap (a message queued twice); keep for each index the furthest end so far.
  const reach: number[] = [];
  runs.forEach(([, last], i) => reach.push(Math.max(last, reach[i - 1] ?? -Infinity)));
  return {
    has(id) {
      // The last run starting at or before id; covered when the furthest end up to it reaches id.
      let lo = 0;
      let hi = runs.length - 1;
      let at = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (runs[mid]![0] <= id) {
          at = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return at >= 0 && reach[at]! >= id;
    },
  };
}

/**
 * Enqueues those of `ids` that no job in Redis carries (`queued`, from queuedMessageIds), so that a sweep
 * during a large backlog does not re-add every waiting message. Returns how many were added. A finished job
 * of the same name (one that ran for another message of that id: finishedJobs.ts) is removed first.
 */
export async function enqueueMissing(queue: Queue<ReportJob>, queued: { has(id: number): boolean }, ids: number[]): Promise<number> {
  const missing = ids.filter((id) => !queued.has(id));
  const jobs = jobsFor(missing);
  await removeFinishedJobs(
    queue,
    jobs.map((j) => j.opts.jobId),
  );
  await addJobs(queue, jobs);
  return missing.length;
}
