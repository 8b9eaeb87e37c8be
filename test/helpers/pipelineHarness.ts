/**
 * Runs the real receiver and worker in-process against a fresh database and a private queue prefix.
 */
import type { Config } from '../../src/config/loadConfig.js';
import { createLogger } from '../../src/log/createLogger.js';
import { startReceiverService, type ReceiverService } from '../../src/services/receiverService.js';
import { startWorkerService, type WorkerService } from '../../src/services/workerService.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';
import { clearQueuePrefix, testConfig } from './testConfig.js';
import { waitFor } from './waitFor.js';

export interface Harness {
  db: TestDatabase;
  config: Config;
  receiver: ReceiverService;
  worker: WorkerService | null;
  /** Waits until raw message `id` is no longer pending; returns its row. */
  settled(id: number): Promise<{ status: string; reason: string | null; detail: string | null; report_id: number | null }>;
  close(): Promise<void>;
}

export async function startHarness(
  env: Record<string, string> = {},
  options: { worker?: boolean; receiverEnv?: Record<string, string> } = {},
): Promise<Harness> {
  const db = await createTestDatabase();
  const config = testConfig(db.url, env);
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const receiverConfig = options.receiverEnv
    ? testConfig(db.url, { ...env, QUEUE_PREFIX: config.queuePrefix, ...options.receiverEnv })
    : config;
  const receiver = await startReceiverService(receiverConfig, log);
  const worker = options.worker === false ? null : await startWorkerService(config, log);
  return {
    db,
    config,
    receiver,
    worker,
    settled: (id) =>
      waitFor(`raw message ${id} to be processed`, async () => {
        const r = await db.pool.query(`SELECT status, reason, detail, report_id FROM raw_messages WHERE id = $1`, [id]);
        return r.rows[0] && r.rows[0].status !== 'pending' ? r.rows[0] : null;
      }),
    async close() {
      await receiver.stop();
      await worker?.stop();
      await clearQueuePrefix(config.queuePrefix);
      await db.drop();
    },
  };
}
