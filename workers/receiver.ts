/** `tlsrpt receiver`: the SMTP receiver alone (run workers separately with `tlsrpt worker`). */
import { loadConfig } from '../src/config/loadConfig.js';
import { createLogger } from '../src/log/createLogger.js';
import { startReceiverService } from '../src/services/receiverService.js';
import { migrateAtStart, stopOnSignals } from '../src/services/lifecycle.js';

/** `env` is where configuration is read from: the CLI passes its own, with TLSRPT_CONFIG from --config. */
export async function runReceiver(env: Record<string, string | undefined> = process.env): Promise<void> {
  const config = loadConfig(env);
  const log = createLogger(config.logLevel, 'tlsrpt-receiver');
  await migrateAtStart(config, log);
  const receiver = await startReceiverService(config, log);
  stopOnSignals(log, config.shutdownTimeoutMs, () => receiver.stop());
}
