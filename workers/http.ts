/** `tlsrpt http`: the HTTPS report endpoint, /metrics and health checks alone (workers run as `tlsrpt worker`). */
import { loadConfig } from '../src/config/loadConfig.js';
import { createLogger } from '../src/log/createLogger.js';
import { startHttpService } from '../src/services/httpService.js';
import { migrateAtStart, reloadOnHangup, stopOnSignals } from '../src/services/lifecycle.js';

/** `env`: where the configuration is read from, at start and again on SIGHUP (TLSRPT_CONFIG names the file). */
export async function runHttp(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const load = () => loadConfig(env);
  const config = load();
  const log = createLogger(config.logLevel, 'tlsrpt-http');
  const reloader = reloadOnHangup(log, 'http', config, load);
  await migrateAtStart(config, log);
  const http = await startHttpService(config, log);
  // SIGHUP: hosted MTA-STS policies and the certificate files (which are also polled for changes).
  reloader.add(http);
  stopOnSignals(log, config.shutdownTimeoutMs, () => http.stop());
}
