/** `tlsrpt worker`: one queue consumer; start several for more throughput. */
import { loadConfig } from '../src/config/loadConfig.js';
import { createLogger } from '../src/log/createLogger.js';
import { startWorkerService } from '../src/services/workerService.js';
import { migrateAtStart, stopOnSignals } from '../src/services/lifecycle.js';

export async function runWorker(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'tlsrpt-worker');
  await migrateAtStart(config, log);
  const worker = await startWorkerService(config, log);
  log.info({ concurrency: config.worker.concurrency }, 'worker consuming the queue');
  stopOnSignals(log, config.shutdownTimeoutMs, () => worker.stop());
}
