/**
 * The worker: consumes the queue, runs processMessage, and sweeps stranded messages. Several worker
 * processes may run against one Postgres and Redis (scale out); BullMQ hands each job to one of them.
 */
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { once } from '../util/once.js';
import { createPool, type Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { processMessage, type ProcessResult } from '../pipeline/processMessage.js';
import {
  REPORT_QUEUE,
  createProducerConnection,
  createReportQueue,
  createWorkerConnection,
  type ReportJob,
} from '../queue/reportQueue.js';
import { startSweeper, type Sweeper } from '../queue/sweepStranded.js';
import { createGroupCommit } from '../db/groupCommit.js';
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

export async function startWorkerService(config: Config, log: Logger, hooks: WorkerHooks = {}): Promise<WorkerService> {
  const pool = createPool(config.databaseUrl, { max: config.worker.concurrency + 2, applicationName: 'tlsrpt-worker' });
  const workerConnection = createWorkerConnection(config.redisUrl);
  const producerConnection = createProducerConnection(config.redisUrl);
  const queue = createReportQueue(producerConnection, config.queuePrefix);
  // Reports decoded while a store transaction runs are stored together by the next one (one commit for
  // up to `concurrency` reports); a report that fails is retried alone, so errors stay per job.
  const storeGroup = createGroupCommit((items: StoreItem[]) => storeReports(pool, items), config.worker.concurrency);
  const deps = {
    pool,
    reportMaxBytes: config.worker.reportMaxBytes,
    maxAttempts: config.worker.maxAttempts,
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
      const result = await processMessage(deps, id);
      if (result.outcome === 'quarantined') {
        log.info({ rawMessageId: id, reason: result.reason, detail: result.detail }, 'message quarantined');
      } else if (result.outcome !== 'skipped') {
        log.debug({ rawMessageId: id, outcome: result.outcome, reportId: result.reportId }, 'report processed');
      }
      await hooks.onProcessed?.(id, result);
      return result.outcome;
    },
    { connection: workerConnection, prefix: config.queuePrefix, concurrency: config.worker.concurrency },
  );
  worker.on('failed', (job, err) => {
    log.warn({ rawMessageId: job?.data.rawMessageId, attempt: job?.attemptsMade, err: errorMessage(err) }, 'job failed; will retry');
  });
  worker.on('error', (err) => log.error({ err: errorMessage(err) }, 'worker error'));

  const sweeper = startSweeper({ pool, queue, redis: producerConnection, log }, config.worker.sweepIntervalMs);

  return {
    pool,
    sweeper,
    stop: once(async () => {
      sweeper.stop();
      await worker.close();
      await queue.close();
      workerConnection.disconnect();
      producerConnection.disconnect();
      await pool.end();
    }),
  };
}
