/** `tlsrpt receiver`: the SMTP receiver alone (run workers separately with `tlsrpt worker`). */
import { loadConfig } from '../src/config/loadConfig.js';
import { checkRecipientGuard } from '../src/receive/recipientGuard.js';
import { createLogger } from '../src/log/createLogger.js';
import { startMonitorService } from '../src/services/monitorService.js';
import { startReceiverService } from '../src/services/receiverService.js';
import { migrateAtStart, reloadOnHangup, stopOnSignals } from '../src/services/lifecycle.js';

/** `env`: where the configuration is read from, at start and again on SIGHUP (TLSRPT_CONFIG names the file). */
export async function runReceiver(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const load = () => loadConfig(env);
  const config = load();
  // Before anything starts: an SMTP port open to every recipient is refused (ACCEPTED_RECIPIENTS).
  checkRecipientGuard(config);
  const log = createLogger(config.logLevel, 'tlsrpt-receiver');
  const reloader = reloadOnHangup(log, 'receiver', config, load);
  await migrateAtStart(config, log);
  const receiver = await startReceiverService(config, log);
  // METRICS_PORT, when set: /metrics (with the STARTTLS certificate), /healthz and /readyz for probes.
  const monitor = await startMonitorService(config, log, { certificates: receiver.certificates });
  // SIGHUP: the STARTTLS certificate files.
  reloader.add(receiver);
  stopOnSignals(log, config.shutdownTimeoutMs, async () => {
    await receiver.stop();
    await monitor?.stop();
  });
}
