/** `tlsrpt worker`: one queue consumer; start several for more throughput. */
import { loadConfig } from '../src/config/loadConfig.js';
import { createLogger } from '../src/log/createLogger.js';
import { startWorkerService } from '../src/services/workerService.js';
import { startAlertService } from '../src/services/alertService.js';
import { migrateAtStart, stopOnSignals } from '../src/services/lifecycle.js';

/** `env` is where configuration is read from: the CLI passes its own, with TLSRPT_CONFIG from --config. */
export async function runWorker(env: Record<string, string | undefined> = process.env): Promise<void> {
  const config = loadConfig(env);
  const log = createLogger(config.logLevel, 'tlsrpt-worker');
  await migrateAtStart(config, log);
  const alerts = await startAlertService(config, log.child({ component: 'alerts' }));
  const worker = await startWorkerService(config, log, { onProcessed: alerts.onProcessed });
  log.info({ concurrency: config.worker.concurrency }, 'worker consuming the queue');
  stopOnSignals(log, config.shutdownTimeoutMs, async () => {
    await worker.stop();
    await alerts.stop();
  });
}
