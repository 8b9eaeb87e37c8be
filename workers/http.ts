/** `tlsrpt http`: the HTTPS report endpoint, /metrics and health checks alone (workers run as `tlsrpt worker`). */
import { loadConfig } from '../src/config/loadConfig.js';
import { createLogger } from '../src/log/createLogger.js';
import { startHttpService } from '../src/services/httpService.js';
import { migrateAtStart, stopOnSignals } from '../src/services/lifecycle.js';

export async function runHttp(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'tlsrpt-http');
  await migrateAtStart(config, log);
  const http = await startHttpService(config, log);
  // SIGHUP re-reads TLS_CERT/TLS_KEY (e.g. from a certbot deploy hook); without a handler it would end the process.
  process.on('SIGHUP', () => {
    log.info('SIGHUP: re-reading TLS_CERT and TLS_KEY');
    void http.reloadTls();
  });
  stopOnSignals(log, config.shutdownTimeoutMs, () => http.stop());
}
