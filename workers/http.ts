/** `tlsrpt http`: the HTTPS report endpoint, /metrics and health checks alone (workers run as `tlsrpt worker`). */
import { loadConfig } from '../src/config/loadConfig.js';
import { createLogger } from '../src/log/createLogger.js';
import { startHttpService } from '../src/services/httpService.js';
import { migrateAtStart, stopOnSignals } from '../src/services/lifecycle.js';

/** `env` is where configuration is read from: the CLI passes its own, with TLSRPT_CONFIG from --config. */
export async function runHttp(env: Record<string, string | undefined> = process.env): Promise<void> {
  const config = loadConfig(env);
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
