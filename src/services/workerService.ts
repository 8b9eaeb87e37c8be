/**
 * The worker: consumes the queue, runs processMessage, and sweeps stranded messages. Several worker
 * processes may run against one Postgres and Redis (scale out); BullMQ hands each job to one of them.
 */
import { Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { once } from '../util/once.js';
import { createPool, type Pool, type PoolOptions } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { processMessage, type ProcessDeps, type ProcessResult } from '../pipeline/processMessage.js';
import { loadRawMessages } from '../store/rawMessages.js';
import {
  REPORT_QUEUE,
  createProducerConnection,
  createReportQueue,
  createWorkerConnection,
  logQueueErrors,
  outageBackoff,
  type ReportJob,
} from '../queue/reportQueue.js';
import { startSweeper, type Sweeper } from '../queue/sweepStranded.js';
import { createGroupCommit } from '../db/groupCommit.js';
import { createMemoryBudget } from '../pipeline/memoryBudget.js';
import { storeReports, type StoreItem, type StoreResult } from '../store/storeReport.js';

export interface WorkerService {
  pool: Pool;
  sweeper: Sweeper;
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
    store: async (rawMessageId: number, decoded: StoreItem['decoded']): Promise<StoreResult> => {
      const r = await storeGroup.submit({ rawMessageId, decoded });
      if (r instanceof Error) throw r;
      return r;
    },
  };

  const worker = new Worker<ReportJob>(
    REPORT_QUEUE,
    async (job) => {
      const id = job.data.rawMessageId;
      const result = await processMessage(deps, id, { previousRunStopped: await stalledSinceLastRun(job) });
      if (result.outcome === 'quarantined') {
        log.info({ rawMessageId: id, reason: result.reason, detail: result.detail }, 'message quarantined');
      } else if (result.outcome !== 'skipped') {
        log.debug({ rawMessageId: id, outcome: result.outcome, reportId: result.reportId }, 'report processed');
      }
      await hooks.onProcessed?.(id, result);
      return result.outcome;
    },
    {
      connection: workerConnection,
      prefix: config.queuePrefix,
      concurrency: config.worker.concurrency,
      // After a Redis error BullMQ waits this long before fetching jobs again (15 s by default): recovery
      // should take seconds (issue 15 finding 6); a reconnecting client does not hammer Redis meanwhile.
      runRetryDelay: 1000,
      // A job whose worker died is run again (and counted before decoding, see stalledSinceLastRun) until
      // WORKER_MAX_ATTEMPTS quarantines it, rather than failed by BullMQ after one stall.
      maxStalledCount: config.worker.maxAttempts + 1,
      settings: { backoffStrategy: (attemptsMade: number) => outageBackoff(attemptsMade) },
    },
  );
  worker.on('failed', (job, err) => {
    log.warn({ rawMessageId: job?.data.rawMessageId, attempt: job?.attemptsMade, err: errorMessage(err) }, 'job failed; will retry');
  });
  logQueueErrors(worker, workerConnection, log);

  const sweeper = startSweeper({ pool, queue, redis: producerConnection, log }, config.worker.sweepIntervalMs);

  return {
    pool,
    sweeper,
    stop: once(async () => {
      sweeper.stop();
      await sweeper.settled();
      await worker.close();
      await queue.close();
      workerConnection.disconnect();
      producerConnection.disconnect();
      await pool.end();
    }),
  };
}
