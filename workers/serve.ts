/** `tlsrpt serve`: migrate, then the SMTP receiver, the HTTP(S) server and the worker in one process. */
import { loadConfig } from '../src/config/loadConfig.js';
import { createLogger } from '../src/log/createLogger.js';
import { startHttpService } from '../src/services/httpService.js';
import { startReceiverService } from '../src/services/receiverService.js';
import { startWorkerService } from '../src/services/workerService.js';
import { startAlertService } from '../src/services/alertService.js';
import { migrateAtStart, stopOnSignals } from '../src/services/lifecycle.js';

/** `env` is where configuration is read from: the CLI passes its own, with TLSRPT_CONFIG from --config. */
export async function runServe(env: Record<string, string | undefined> = process.env): Promise<void> {
  const config = loadConfig(env);
  const log = createLogger(config.logLevel);
  await migrateAtStart(config, log);
  const alerts = await startAlertService(config, log.child({ component: 'alerts' }));
  const worker = await startWorkerService(config, log.child({ component: 'worker' }), { onProcessed: alerts.onProcessed });
  const receiver = await startReceiverService(config, log.child({ component: 'receiver' }));
  const http = await startHttpService(config, log.child({ component: 'http' }));
  // SIGHUP re-reads TLS_CERT/TLS_KEY for HTTPS; without a handler it would end the process.
  process.on('SIGHUP', () => {
    log.info('SIGHUP: re-reading TLS_CERT and TLS_KEY');
    void http.reloadTls();
  });
  stopOnSignals(log, config.shutdownTimeoutMs, async () => {
    await Promise.all([receiver.stop(), http.stop()]);
    await worker.stop();
    await alerts.stop();
  });
}
