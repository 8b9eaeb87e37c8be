/**
 * The worker: consumes the queue, runs processMessage, and sweeps stranded messages. Several worker
 * processes may run against one Postgres and Redis (scale out); BullMQ hands each job to one of them.
 */
import { Worker } from 'bullmq';
import { createAuthenticator } from '../auth/authenticateMessage.js';
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { once } from '../util/once.js';
import { createPool, type Pool, type PoolOptions } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import type { Job } from 'bullmq';
import { processMessage, type ProcessDeps, type ProcessResult } from '../pipeline/processMessage.js';
import { loadRawMessages } from '../store/rawMessages.js';
import {
  REPORT_QUEUE,
  createProducerConnection,
  createReportQueue,
  createWorkerConnection,
  logQueueErrors,
  outageBackoff,
  messageIdsOf,
  type ReportJob,
} from '../queue/reportQueue.js';
import { startSweeper, type Sweeper } from '../queue/sweepStranded.js';
import { startRollupJob, type RollupJob } from '../rollup/rollupJob.js';
import { createGroupCommit } from '../db/groupCommit.js';
import { createMemoryBudget } from '../pipeline/memoryBudget.js';
import { storeReports, type StoreItem, type StoreResult } from '../store/storeReport.js';
import { startRetentionJob, type RetentionJob } from '../retention/retentionJob.js';

export interface WorkerService {
  pool: Pool;
  sweeper: Sweeper;
  /** Month partitions ahead and the daily prune (README "Retention"). */
  retention: RetentionJob;
  /** Folds stored reports into the daily totals and /metrics totals, off the write path (src/rollup/). */
  rollup: RollupJob;
  /** Waits for the jobs in progress, then closes every connection. */
  stop(): Promise<void>;
}

export interface WorkerHooks {
  /** Called after each message is settled (metrics and alerts attach here). */
  onProcessed?: (rawMessageId: number, result: ProcessResult) => void | Promise<void>;
}

/**
 * Loads and stores are batched (one connection each at a time), so the pool need not grow with the
 * concurrency: the rest serves quarantines, retries and the sweep. Keeps many workers within Postgres's
 * max_connections (100 by default). Every query of the worker finds its rows by key.
 */
export const WORKER_POOL: PoolOptions = { max: 6, applicationName: 'tlsrpt-worker', keyedLookups: true };

/**
 * Whether the job's previous run stalled (its worker died before an outcome) and that was not counted yet.
 * BullMQ counts stalls in the job (stalledCounter); the count already charged to raw_messages.attempts is
 * kept in the job's data, so a later retry for an outage is not taken for another crash.
 */
async function stalledSinceLastRun(job: Job<ReportJob>): Promise<boolean> {
  const stalls = job.stalledCounter ?? 0;
  const counted = job.data.stallsCounted ?? 0;
  if (stalls <= counted) return false;
  await job.updateData({ ...job.data, stallsCounted: stalls });
  return true;
}

export async function startWorkerService(config: Config, log: Logger, hooks: WorkerHooks = {}): Promise<WorkerService> {
  const pool = createPool(config.databaseUrl, { ...WORKER_POOL, log });
  const workerConnection = createWorkerConnection(config.redisUrl, log);
  const producerConnection = createProducerConnection(config.redisUrl, log);
  const queue = createReportQueue(producerConnection, config.queuePrefix, log);
  // The jobs in hand are loaded together (one query) and their reports stored together (one statement,
  // one commit): what arrives while a query runs goes in the next one. A report that fails is retried
  // alone, so errors stay per job.
  const loadGroup = createGroupCommit((ids: number[]) => loadRawMessages(pool, ids), config.worker.concurrency);
  const storeGroup = createGroupCommit((items: StoreItem[]) => storeReports(pool, items), config.worker.concurrency);
  const deps: ProcessDeps = {
    pool,
    load: (rawMessageId) => loadGroup.submit(rawMessageId),
    reportMaxBytes: config.worker.reportMaxBytes,
    maxAttempts: config.worker.maxAttempts,
    memoryBudget: createMemoryBudget(config.worker.memoryBudgetBytes),
    // DKIM verification between decode and store; its DNS cache is shared by the jobs in hand.
    authenticator: createAuthenticator(config.worker.authentication),
    store: async (rawMessageId: number, decoded: StoreItem['decoded']): Promise<StoreResult> => {
      const r = await storeGroup.submit({ rawMessageId, decoded });
      if (r instanceof Error) throw r;
      return r;
    },
  };

  // Messages in hand at most: WORKER_CONCURRENCY. A job carries up to JOB_MAX_MESSAGES, so BullMQ's job
  // concurrency follows what is in hand: one more job is fetched while fewer messages than that are held.
  // Under a burst a worker holds a few full jobs (one decoded while another is stored) and leaves the rest
  // of a backlog to other workers; at a trickle it holds up to WORKER_CONCURRENCY jobs of one message.
  const inHand = { jobs: 0, messages: 0 };
  const admit = () => {
    worker.concurrency = Math.max(1, inHand.jobs + (inHand.messages < config.worker.concurrency ? 1 : 0));
  };

  /**
   * One message of a job: its own outcome, log line and hook, as when a job carried one message. Returns the
   * outcome only: the decoded report (hundreds of MB for a million failure details) must not stay reachable
   * until the job's last message is done, outside WORKER_MEMORY_BUDGET (16 such reports in one job reached
   * 3.4 GB).
   */
  const handleMessage = async (id: number, previousRunStopped: boolean): Promise<ProcessResult['outcome']> => {
    const result = await processMessage(deps, id, { previousRunStopped });
    if (result.outcome === 'quarantined') {
      log.info({ rawMessageId: id, reason: result.reason, detail: result.detail }, 'message quarantined');
    } else if (result.outcome !== 'skipped') {
      log.debug({ rawMessageId: id, outcome: result.outcome, reportId: result.reportId }, 'report processed');
    }
    await hooks.onProcessed?.(id, result);
    return result.outcome;
  };

  /**
   * Every message of the job at once (their loads and stores join the group commits). A message that
   * throws (an outage, or an unexpected error it has attempts left for) fails the job after the others are
   * settled: BullMQ retries it with backoff, and the retry finds the settled ones no longer pending.
   */
  const handleJob = async (job: Job<ReportJob>): Promise<Record<string, number>> => {
    const ids = messageIdsOf(job.data);
    // Counted before the first await: BullMQ's main loop reads the concurrency as soon as it has handed this
    // job over, then waits for a job to finish. Counted after an await, the next job was fetched only once
    // this one was done, so a worker held one job at a time and stored no more than one job's reports per
    // statement (README "Scaling out" has the figures).
    inHand.jobs += 1;
    inHand.messages += ids.length;
    admit();
    try {
      const stopped = await stalledSinceLastRun(job);
      const results = await Promise.allSettled(ids.map((id) => handleMessage(id, stopped)));
      const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ id: ids[i]!, err: r.reason as unknown }] : []));
      if (failed.length > 0) {
        if (failed.length > 1) {
          log.warn({ rawMessageIds: failed.map((f) => f.id), err: errorMessage(failed[0]!.err) }, 'messages of one job failed; will retry');
        }
        throw failed[0]!.err;
      }
      const outcomes: Record<string, number> = {};
      for (const r of results) if (r.status === 'fulfilled') outcomes[r.value] = (outcomes[r.value] ?? 0) + 1;
      return outcomes;
    } finally {
      inHand.jobs -= 1;
      inHand.messages -= ids.length;
      admit();
    }
  };

  const worker = new Worker<ReportJob>(REPORT_QUEUE, handleJob, {
    connection: workerConnection,
    prefix: config.queuePrefix,
    concurrency: 1,
    // After a Redis error BullMQ waits this long before fetching jobs again (15 s by default): recovery
    // should take seconds (issue 15 finding 6); a reconnecting client does not hammer Redis meanwhile.
    runRetryDelay: 1000,
    // A job whose worker died is run again (and counted before decoding, see stalledSinceLastRun) until
    // WORKER_MAX_ATTEMPTS quarantines its messages, rather than failed by BullMQ after one stall.
    maxStalledCount: config.worker.maxAttempts + 1,
    settings: { backoffStrategy: (attemptsMade: number) => outageBackoff(attemptsMade) },
  });
  worker.on('failed', (job, err) => {
    log.warn(
      { rawMessageIds: job ? messageIdsOf(job.data) : undefined, attempt: job?.attemptsMade, err: errorMessage(err) },
      'job failed; will retry',
    );
  });
  logQueueErrors(worker, workerConnection, log);

  const sweeper = startSweeper({ pool, queue, redis: producerConnection, log }, config.worker.sweepIntervalMs);
  const retention = startRetentionJob({ databaseUrl: config.databaseUrl, settings: config.retention, log });
  // A connection of its own, named, so that its PostgreSQL time can be told from the worker's writes
  // (pg_stat_activity.application_name 'tlsrpt-rollup'; the benchmark adds it up).
  const rollupPool = createPool(config.databaseUrl, { max: 1, applicationName: 'tlsrpt-rollup', log });
  const rollup = startRollupJob({ pool: rollupPool, log });

  return {
    pool,
    sweeper,
    retention,
    rollup,
    stop: once(async () => {
      sweeper.stop();
      await sweeper.settled();
      await retention.stop();
      await worker.close();
      await rollup.stop();
      await rollupPool.end();
      await queue.close();
      workerConnection.disconnect();
      producerConnection.disconnect();
      await pool.end();
    }),
  };
}
