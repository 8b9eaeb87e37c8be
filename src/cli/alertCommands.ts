/** `tlsrpt alerts ...`: try the destinations, see what was alerted and whether it arrived, read the explanations. */
import { InvalidArgumentError, type Command } from 'commander';
import { listAlerts } from '../alert/store/alertStore.js';
import { DELIVERY_ERRORS } from '../alert/deliver/deliveryError.js';
import { NO_FAILURE_DETAILS, NO_FAILURE_DETAILS_INFO } from '../alert/decide/evaluateWindow.js';
import { when } from '../alert/decide/formatAlert.js';
import { sendTestAlert } from '../alert/run/sendTestAlert.js';
import { loadConfig } from '../config/loadConfig.js';
import { createPool } from '../db/pool.js';
import { RESULT_TYPES, explainResultType } from '../resultTypes.js';

const DESTINATIONS_HELP = `
Destinations (any number, each optional; README "Alerts"):
  ALERT_WEBHOOK_URLS         JSON POST of the alert, comma-separated URLs
  ALERT_SLACK_WEBHOOK_URLS   Slack-compatible incoming webhooks ({"text": ...})
  ALERT_EMAIL_SMTP_URL       smtp://user:pass@host:587 or smtps://host:465, with
  ALERT_EMAIL_FROM, ALERT_EMAIL_TO`;

export function registerAlertCommands(program: Command): void {
  const alerts = program
    .command('alerts')
    .description('alerts on failed TLS sessions: send a test, list recent alerts and their delivery, explain result types');

  alerts
    .command('test')
    .description('send a test alert to every configured destination now and print what each answered')
    .option('--domain <domain>', 'policy domain named in the test alert', 'example.com')
    .addHelpText(
      'after',
      `${DESTINATIONS_HELP}\n\nExits 1 when a destination failed or none is configured. The test alert is recorded like any other (see "tlsrpt alerts list").`,
    )
    .action(async (opts: { domain: string }) => {
      const config = loadConfig();
      if (!config.alerts.destinations.length) {
        process.stderr.write(
          'No alert destinations are configured: set ALERT_WEBHOOK_URLS, ALERT_SLACK_WEBHOOK_URLS or ALERT_EMAIL_SMTP_URL (README "Alerts").\n',
        );
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`Sending a test alert to ${config.alerts.destinations.length} destination(s):\n`);
      const outcome = await sendTestAlert(config, opts.domain.toLowerCase());
      const width = Math.max(...outcome.results.map((r) => r.target.length));
      for (const r of outcome.results) {
        process.stdout.write(
          `  ${(r.ok ? 'ok' : 'FAILED').padEnd(6)}  ${r.kind.padEnd(7)}  ${r.target.padEnd(width)}  ${r.detail} (${Math.round(r.durationMs)} ms)\n`,
        );
      }
      if (outcome.alertId !== null) process.stdout.write(`Recorded as alert ${outcome.alertId} (see "tlsrpt alerts list").\n`);
      if (outcome.recordError) process.stdout.write(`Not recorded in the database: ${outcome.recordError} (run "tlsrpt migrate"?)\n`);
      if (outcome.results.some((r) => !r.ok)) process.exitCode = 1;
    });

  alerts
    .command('list')
    .description('show recent alerts, newest first, with the delivery state of each destination')
    .option('-n, --limit <count>', 'how many alerts', (v) => positive(v, '--limit'), 20)
    .option('--domain <domain>', 'only alerts for this policy domain')
    .option('--kind <kind>', 'only failed-sessions, quiet-reporter or test alerts')
    .option('--json', 'print JSON instead of text')
    .addHelpText(
      'after',
      `\nDelivery error codes:\n${Object.entries(DELIVERY_ERRORS)
        .map(([code, text]) => `  ${code.padEnd(20)} ${text}`)
        .join('\n')}`,
    )
    .action(async (opts: { limit: number; domain?: string; kind?: string; json?: boolean }) => {
      const config = loadConfig();
      const pool = createPool(config.databaseUrl, { max: 1, applicationName: 'tlsrpt-cli' });
      try {
        const rows = await listAlerts(pool, { limit: opts.limit, domain: opts.domain ?? null, kind: opts.kind ?? null });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        if (!rows.length) {
          process.stdout.write('No alerts recorded.\n');
          return;
        }
        for (const a of rows) {
          process.stdout.write(`#${a.id}  ${when(a.createdAt.toISOString())}  ${a.severity}  ${a.policyDomain}  ${a.kind}  ${a.status}\n`);
          process.stdout.write(`     ${a.subject}\n`);
          for (const d of a.deliveries) {
            const error = d.status !== 'delivered' && d.lastErrorCode ? `  ${d.lastErrorCode}: ${d.lastError}` : '';
            process.stdout.write(
              `     ${d.kind.padEnd(7)}  ${d.target}  ${d.status}, ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}${error}\n`,
            );
          }
        }
      } finally {
        await pool.end();
      }
    });

  alerts
    .command('explain')
    .description('what a TLS-RPT result type means and how to fix it (all of them without an argument)')
    .argument('[result-type]', 'e.g. certificate-expired')
    .action((resultType?: string) => {
      const types = resultType ? [resultType] : [...Object.keys(RESULT_TYPES), NO_FAILURE_DETAILS];
      for (const t of types) {
        const info = t === NO_FAILURE_DETAILS ? { group: 'not in the IANA registry', ...NO_FAILURE_DETAILS_INFO } : explainResultType(t);
        process.stdout.write(`${t} (${info.group})\n  What it means: ${info.meaning}\n  How to fix:    ${info.fix}\n`);
      }
    });
}

function positive(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${option} takes a positive whole number, not "${value}".`);
  return n;
}
