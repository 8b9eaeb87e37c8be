/** `tlsrpt serve`: migrate, then the SMTP receiver and the worker in one process. */
import { loadConfig } from '../src/config/loadConfig.js';
import { createLogger } from '../src/log/createLogger.js';
import { startReceiverService } from '../src/services/receiverService.js';
import { startWorkerService } from '../src/services/workerService.js';
import { startAlertService } from '../src/services/alertService.js';
import { migrateAtStart, stopOnSignals } from '../src/services/lifecycle.js';

export async function runServe(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  await migrateAtStart(config, log);
  const alerts = await startAlertService(config, log.child({ component: 'alerts' }));
  const worker = await startWorkerService(config, log.child({ component: 'worker' }), { onProcessed: alerts.onProcessed });
  const receiver = await startReceiverService(config, log.child({ component: 'receiver' }));
  stopOnSignals(log, config.shutdownTimeoutMs, async () => {
    await receiver.stop();
    await worker.stop();
    await alerts.stop();
  });
}
