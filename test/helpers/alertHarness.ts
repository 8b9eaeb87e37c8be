/**
 * The pipeline with alerting, as `tlsrpt serve` wires it: receiver, report worker with the alert hook, and
 * the alert service, against a fresh database and a private queue prefix.
 */
import type { Config } from '../../src/config/loadConfig.js';
import { createLogger } from '../../src/log/createLogger.js';
import { jobIdFor, createProducerConnection, createReportQueue } from '../../src/queue/reportQueue.js';
import { startAlertService, type AlertService } from '../../src/services/alertService.js';
import { startReceiverService, type ReceiverService } from '../../src/services/receiverService.js';
import { startWorkerService, type WorkerService } from '../../src/services/workerService.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';
import { clearQueuePrefix, testConfig } from './testConfig.js';
import { queuedId, smtpSend } from './smtpSend.js';
import { waitFor } from './waitFor.js';

export interface AlertHarness {
  db: TestDatabase;
  config: Config;
  receiver: ReceiverService;
  worker: WorkerService;
  alerts: AlertService;
  /** Sends a mail over SMTP and waits until its report job has finished, alert hook included. */
  deliver(raw: Buffer): Promise<{ rawMessageId: number; status: string; reportId: number | null }>;
  /** Waits until the report job of raw message `id` has completed. */
  jobDone(id: number): Promise<void>;
  close(): Promise<void>;
}

export async function startAlertHarness(env: Record<string, string> = {}): Promise<AlertHarness> {
  const db = await createTestDatabase();
  // The alert tests' reports have fixed dates (early 2026), so that the alert texts they check are stable:
  // the age limit, which would keep them out of every window, is set out of their way (it is tested in
  // test/ingest/backfillAlerts.test.ts).
  const config = testConfig(db.url, { ALERT_MAX_REPORT_AGE: '3650d', ...env });
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const alerts = await startAlertService(config, log);
  const worker = await startWorkerService(config, log, { onProcessed: alerts.onProcessed });
  const receiver = await startReceiverService(config, log);
  const redis = createProducerConnection(config.redisUrl);
  const reportQueue = createReportQueue(redis, config.queuePrefix);

  const jobDone = async (id: number) => {
    await waitFor(`report job of raw message ${id} to complete`, async () => (await reportQueue.getJobState(jobIdFor(id))) === 'completed');
  };
  return {
    db,
    config,
    receiver,
    worker,
    alerts,
    jobDone,
    async deliver(raw) {
      const sent = await smtpSend(receiver.port, raw);
      if (sent.code !== 250) throw new Error(`not accepted: ${sent.response}`);
      const rawMessageId = queuedId(sent.response);
      await jobDone(rawMessageId);
      const row = (await db.pool.query(`SELECT status, report_id FROM raw_messages WHERE id = $1`, [rawMessageId])).rows[0];
      return { rawMessageId, status: row.status, reportId: row.report_id };
    },
    async close() {
      await receiver.stop();
      await worker.stop();
      await alerts.stop();
      await reportQueue.close();
      redis.disconnect();
      await clearQueuePrefix(config.queuePrefix);
      await db.drop();
    },
  };
}
