/** `tlsrpt serve`: migrate, then the SMTP receiver, the HTTP(S) server and the worker in one process. */
import { loadConfig } from '../src/config/loadConfig.js';
import { checkRecipientGuard } from '../src/receive/recipientGuard.js';
import { createLogger } from '../src/log/createLogger.js';
import { startHttpService } from '../src/services/httpService.js';
import { startReceiverService } from '../src/services/receiverService.js';
import { startWorkerService } from '../src/services/workerService.js';
import { startAlertService } from '../src/services/alertService.js';
import { startImapService } from '../src/imap/imapService.js';
import { migrateAtStart, reloadOnHangup, stopOnSignals } from '../src/services/lifecycle.js';

/** `env`: where the configuration is read from, at start and again on SIGHUP (TLSRPT_CONFIG names the file). */
export async function runServe(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const load = () => loadConfig(env);
  const config = load();
  // Before anything starts: an SMTP port open to every recipient is refused (ACCEPTED_RECIPIENTS).
  checkRecipientGuard(config);
  const log = createLogger(config.logLevel);
  const reloader = reloadOnHangup(log, 'serve', config, load);
  await migrateAtStart(config, log);
  const alerts = await startAlertService(config, log.child({ component: 'alerts' }));
  const worker = await startWorkerService(config, log.child({ component: 'worker' }), { onProcessed: alerts.onProcessed });
  const receiver = await startReceiverService(config, log.child({ component: 'receiver' }));
  // One /metrics for the process: it shows the STARTTLS certificate beside the HTTPS ones.
  const http = await startHttpService(config, log.child({ component: 'http' }), { certificates: receiver.certificates });
  // The mailboxes of IMAP_URL, when there are any (a SIGHUP cannot add the first: that needs a restart).
  const imap = config.imap.mailboxes.length ? await startImapService(config, log.child({ component: 'imap' })) : null;
  // SIGHUP: hosted MTA-STS policies, the certificate (STARTTLS and HTTPS), the alert and the IMAP settings.
  for (const service of [alerts, receiver, http, ...(imap ? [imap] : [])]) reloader.add(service);
  stopOnSignals(log, config.shutdownTimeoutMs, async () => {
    await Promise.all([receiver.stop(), http.stop(), imap?.stop()]);
    await worker.stop();
    await alerts.stop();
  });
}
