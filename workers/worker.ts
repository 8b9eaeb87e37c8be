/** `tlsrpt worker`: one queue consumer; start several for more throughput. */
import { loadConfig } from '../src/config/loadConfig.js';
import { createLogger } from '../src/log/createLogger.js';
import { startMonitorService } from '../src/services/monitorService.js';
import { startWorkerService } from '../src/services/workerService.js';
import { startAlertService } from '../src/services/alertService.js';
import { migrateAtStart, reloadOnHangup, stopOnSignals } from '../src/services/lifecycle.js';

/** `env`: where the configuration is read from, at start and again on SIGHUP (TLSRPT_CONFIG names the file). */
export async function runWorker(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const load = () => loadConfig(env);
  const config = load();
  const log = createLogger(config.logLevel, 'tlsrpt-worker');
  const reloader = reloadOnHangup(log, 'worker', config, load);
  await migrateAtStart(config, log);
  const alerts = await startAlertService(config, log.child({ component: 'alerts' }));
  const worker = await startWorkerService(config, log, { onProcessed: alerts.onProcessed });
  // METRICS_PORT, when set: /metrics, /healthz and /readyz for probes.
  const monitor = await startMonitorService(config, log);
  // SIGHUP: the alert destinations, thresholds and rules.
  reloader.add(alerts);
  log.info({ concurrency: config.worker.concurrency }, 'worker consuming the queue');
  stopOnSignals(log, config.shutdownTimeoutMs, async () => {
    await worker.stop();
    await alerts.stop();
    await monitor?.stop();
  });
}
