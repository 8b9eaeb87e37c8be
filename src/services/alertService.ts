/**
 * Alerting beside the report worker: attaches every newly stored report to its domain's evaluation window
 * (the worker's onProcessed hook), runs the alert queue (window evaluations, deliveries), and every
 * ALERT_CHECK_INTERVAL_SECONDS picks up whatever a Redis or PostgreSQL outage left behind and looks for
 * quiet reporters. Every worker process runs one; all of it is idempotent, so they never alert twice.
 */
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { checkQuietReporters } from '../alert/run/checkQuietReporters.js';
import { listPendingDeliveries } from '../alert/store/alertStore.js';
import { sendDelivery } from '../alert/run/sendDelivery.js';
import { settleWindow } from '../alert/run/settleWindow.js';
import { attachReports, listOverdueWindows, listUnattachedFailingReports } from '../alert/store/windowStore.js';
import { createGroupRun } from '../db/groupCommit.js';
import type { Config } from '../config/loadConfig.js';
import { createPool, type Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import type { ProcessResult } from '../pipeline/processMessage.js';
import {
  ALERT_QUEUE,
  createAlertQueue,
  deliveryJobId,
  enqueueDeliveries,
  enqueueWindowEvaluations,
  windowJobId,
  type AlertJob,
} from '../queue/alertQueue.js';
import { removeFinishedJobs } from '../queue/finishedJobs.js';
import { createProducerConnection, createWorkerConnection, logQueueErrors } from '../queue/reportQueue.js';

export interface AlertService {
  pool: Pool;
  /**
   * For WorkerHooks.onProcessed: only a newly stored report (outcome `stored`) can open or join a window, and
   * only one whose date range ended within ALERT_MAX_REPORT_AGE of its storing.
   */
  onProcessed(rawMessageId: number, result: ProcessResult): Promise<void>;
  /** One pass of the periodic check; resolves with what it re-enqueued or created. */
  checkOnce(now?: Date): Promise<{ attached: number; windows: number; deliveries: number }>;
  stop(): Promise<void>;
  /** SIGHUP: the alert settings of `next` (destinations, thresholds, rules) for what is evaluated and sent from now on. */
  reload(next: Config): Promise<void>;
}

/**
 * How long a stored report waits for others before they are attached to alert windows together. An attach
 * is a transaction of five round trips, and windows wait minutes (ALERT_GROUP_WAIT_SECONDS) anyway: with
 * 16 SMTP connections, attaching what each store statement stored took more PostgreSQL round trips than
 * storing it (README "Measurements behind the code").
 */
const ATTACH_LINGER_MS = 200;
/** Left to the hook and the delayed job before the periodic check steps in. */
const CHECK_GRACE_MS = 60_000;
/** Failing reports stored up to this long ago that are in no window are attached by the check. */
const UNATTACHED_MAX_AGE_MS = 2 * 86_400_000;

export async function startAlertService(config: Config, log: Logger): Promise<AlertService> {
  const pool = createPool(config.databaseUrl, { max: 4, applicationName: 'tlsrpt-alerts', log });
  const workerConnection = createWorkerConnection(config.redisUrl, log);
  const producerConnection = createProducerConnection(config.redisUrl, log);
  const queue = createAlertQueue(producerConnection, config.queuePrefix, log);
  // Every use reads deps.config when it runs, so a reload takes effect for the next window and delivery.
  const deps = { pool, config: config.alerts, log };
  const retry = () => ({ attempts: deps.config.deliveryAttempts, delayMs: deps.config.retryDelayMs });

  const worker = new Worker<AlertJob>(
    ALERT_QUEUE,
    async (job) => {
      if (job.data.type === 'evaluate-window') {
        await enqueueDeliveries(queue, await settleWindow(deps, job.data.windowId), retry());
        return 'evaluated';
      }
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      return sendDelivery(deps, job.data.deliveryId, lastAttempt);
    },
    { connection: workerConnection, prefix: config.queuePrefix, concurrency: 4 },
  );
  logQueueErrors(worker, workerConnection, log);

  const attach = async (reportIds: number[]): Promise<void> => {
    await enqueueWindowEvaluations(queue, await attachReports(pool, reportIds, deps.config.groupWaitMs, deps.config.maxReportAgeMs));
  };
  // The worker's hook: the reports stored over ATTACH_LINGER_MS are attached together, in one transaction.
  const attachGroup = createGroupRun(attach, 256, { lingerMs: ATTACH_LINGER_MS });

  const checkOnce = async (now = new Date()) => {
    const unattached = await listUnattachedFailingReports(pool, CHECK_GRACE_MS, UNATTACHED_MAX_AGE_MS, deps.config.maxReportAgeMs);
    await attach(unattached);
    const attached = unattached.length;
    const overdue = await listOverdueWindows(pool, CHECK_GRACE_MS);
    // A finished job of a row that still waits ran for another row of that id (src/queue/finishedJobs.ts).
    await removeFinishedJobs(
      queue,
      overdue.map((w) => windowJobId(w.windowId)),
    );
    await enqueueWindowEvaluations(queue, overdue);
    const created = await checkQuietReporters(deps, now);
    const pending = await listPendingDeliveries(pool, CHECK_GRACE_MS);
    await removeFinishedJobs(queue, pending.map(deliveryJobId));
    // Adding a job whose id exists is a no-op, so deliveries waiting for their next retry are not disturbed.
    await enqueueDeliveries(queue, [...new Set([...created, ...pending])], retry());
    if (attached || overdue.length) log.info({ attached, overdueWindows: overdue.length }, 'alert check: picked up stalled work');
    return { attached, windows: overdue.length, deliveries: created.length };
  };

  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    running ??= checkOnce()
      .catch((err) => log.warn({ err: errorMessage(err) }, 'alert check failed; will try again'))
      .finally(() => {
        running = null;
      });
  }, config.alerts.checkIntervalMs); // fixed at start: ALERT_CHECK_INTERVAL_SECONDS needs a restart
  timer.unref();

  let stopping: Promise<void> | null = null;
  return {
    pool,
    async onProcessed(rawMessageId, result) {
      if (result.outcome !== 'stored') return;
      // Not awaited: the report's job does not wait for the linger (the worker would hold its messages
      // meanwhile), and an alerting problem never fails it. What a crash or an outage leaves unattached,
      // the periodic check attaches later.
      attachGroup.submit(result.reportId).catch((err: unknown) => {
        log.warn(
          { rawMessageId, reportId: result.reportId, err: errorMessage(err) },
          'could not queue the report for alerting; the periodic check will',
        );
      });
    },
    checkOnce,
    async reload(next) {
      const before = deps.config.destinations;
      deps.config = { ...next.alerts, checkIntervalMs: deps.config.checkIntervalMs };
      const after = deps.config.destinations;
      // Compared by key (a hash of the whole address, secret included), shown by masked target. Deliveries
      // still queued for a removed destination end as destination-removed.
      const added = after.filter((d) => !before.some((b) => b.key === d.key)).map((d) => d.target);
      const removed = before.filter((d) => !after.some((a) => a.key === d.key)).map((d) => d.target);
      log.info({ destinations: after.length, added, removed }, 'alert settings reloaded');
    },
    stop() {
      stopping ??= (async () => {
        clearInterval(timer);
        await attachGroup.drain();
        await running;
        await worker.close();
        await queue.close();
        workerConnection.disconnect();
        producerConnection.disconnect();
        await pool.end();
      })();
      return stopping;
    },
  };
}
