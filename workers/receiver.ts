/** `tlsrpt receiver`: the SMTP receiver alone (run workers separately with `tlsrpt worker`). */
import { loadConfig } from '../src/config/loadConfig.js';
import { createLogger } from '../src/log/createLogger.js';
import { startReceiverService } from '../src/services/receiverService.js';
import { migrateAtStart, stopOnSignals } from '../src/services/lifecycle.js';

export async function runReceiver(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'tlsrpt-receiver');
  await migrateAtStart(config, log);
  const receiver = await startReceiverService(config, log);
  stopOnSignals(log, config.shutdownTimeoutMs, () => receiver.stop());
}
