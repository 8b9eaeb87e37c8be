/** `tlsrpt imap`: read report mail from the IMAP mailboxes of IMAP_URL (run a worker to process it). */
import { loadConfig } from '../src/config/loadConfig.js';
import { ConfigError } from '../src/errors.js';
import { startImapService } from '../src/imap/imapService.js';
import { createLogger } from '../src/log/createLogger.js';
import { migrateAtStart, reloadOnHangup, stopOnSignals } from '../src/services/lifecycle.js';
import { startMonitorService } from '../src/services/monitorService.js';

/** `env`: where the configuration is read from, at start and again on SIGHUP (TLSRPT_CONFIG names the file). */
export async function runImap(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const load = () => loadConfig(env);
  const config = load();
  if (config.imap.mailboxes.length === 0) throw noMailbox();
  const log = createLogger(config.logLevel, 'tlsrpt-imap');
  const reloader = reloadOnHangup(log, 'imap', config, load);
  await migrateAtStart(config, log);
  const imap = await startImapService(config, log);
  // METRICS_PORT, when set: /metrics, /healthz and /readyz for probes.
  const monitor = await startMonitorService(config, log);
  // SIGHUP: the IMAP_* settings (readers restart after their pass in progress).
  reloader.add(imap);
  stopOnSignals(log, config.shutdownTimeoutMs, async () => {
    await imap.stop();
    await monitor?.stop();
  });
}

export function noMailbox(): ConfigError {
  return new ConfigError(
    'IMAP_URL',
    'no mailbox is set: set IMAP_URL=imaps://USER:PASSWORD@HOST/FOLDER (README "Reading reports from a mailbox (IMAP)")',
  );
}
