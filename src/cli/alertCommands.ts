/** `tlsrpt alerts ...`: try the destinations, see what was alerted and whether it arrived, read the explanations. */
import { Option, type Command } from 'commander';
import { listAlerts } from '../alert/store/alertStore.js';
import { DELIVERY_ERRORS } from '../alert/deliver/deliveryError.js';
import { NO_FAILURE_DETAILS, NO_FAILURE_DETAILS_INFO } from '../alert/decide/evaluateWindow.js';
import { when } from '../alert/decide/formatAlert.js';
import { sendTestAlert } from '../alert/run/sendTestAlert.js';
import { createPool } from '../db/pool.js';
import { RESULT_TYPES, explainResultType } from '../resultTypes.js';
import { terminalText } from '../util/terminalText.js';
import { formatRows, type Column, type OutputFormat, type Row } from '../stats/formatRows.js';
import type { CliContext } from './cliContext.js';
import { EXIT_FINDING } from './exitCodeFor.js';
import { domainName, wholeNumber } from './optionParsers.js';
import { addFormatOption, formatJson, outputFormat, type FormatOptions } from './outputFormat.js';

const DESTINATIONS_HELP = `
Destinations (any number, each optional; README "Alerts"):
  ALERT_WEBHOOK_URLS         JSON POST of the alert, comma-separated URLs
  ALERT_SLACK_WEBHOOK_URLS   Slack-compatible incoming webhooks ({"text": ...})
  ALERT_EMAIL_SMTP_URL       smtp://user:pass@host:587 or smtps://host:465, with
  ALERT_EMAIL_FROM, ALERT_EMAIL_TO`;

const ALERT_KINDS = ['failed-sessions', 'quiet-reporter', 'test'] as const;

/** CSV of `alerts list`: one row per delivery, the alert's fields repeated (an alert without one has one row). */
const LIST_CSV_COLUMNS: Column[] = [
  { name: 'alert_id', kind: 'count' },
  { name: 'created_at', kind: 'text' },
  { name: 'severity', kind: 'text' },
  { name: 'policy_domain', kind: 'text' },
  { name: 'kind', kind: 'text' },
  { name: 'status', kind: 'text' },
  { name: 'subject', kind: 'text' },
  { name: 'delivery_kind', kind: 'text' },
  { name: 'delivery_target', kind: 'text' },
  { name: 'delivery_status', kind: 'text' },
  { name: 'delivery_attempts', kind: 'count' },
  { name: 'delivery_error_code', kind: 'text' },
  { name: 'delivery_error', kind: 'text' },
];

const EXPLAIN_COLUMNS: Column[] = [
  { name: 'result_type', kind: 'text' },
  { name: 'group', kind: 'text' },
  { name: 'meaning', kind: 'text' },
  { name: 'fix', kind: 'text' },
];

export function registerAlertCommands(program: Command, ctx: CliContext): void {
  const alerts = program
    .command('alerts')
    .description('alerts on failed TLS sessions: send a test, list recent alerts and their delivery, explain result types');

  alerts
    .command('test')
    .description('send a test alert to every configured destination now and print what each answered')
    .option('--domain <domain>', 'policy domain named in the test alert', domainName, 'example.com')
    .addHelpText(
      'after',
      `${DESTINATIONS_HELP}\n\nExits 1 when a destination failed or none is configured. The test alert is recorded like any other (see "tlsrpt alerts list").`,
    )
    .action(async (opts: { domain: string }) => {
      const config = ctx.loadConfig();
      if (!config.alerts.destinations.length) {
        ctx.err(
          'No alert destinations are configured: set ALERT_WEBHOOK_URLS, ALERT_SLACK_WEBHOOK_URLS or ALERT_EMAIL_SMTP_URL (README "Alerts").\n',
        );
        ctx.exitCode = EXIT_FINDING;
        return;
      }
      ctx.out(`Sending a test alert to ${config.alerts.destinations.length} destination(s):\n`);
      const outcome = await sendTestAlert(config, opts.domain);
      const width = Math.max(...outcome.results.map((r) => r.target.length));
      for (const r of outcome.results) {
        ctx.out(
          `  ${(r.ok ? 'ok' : 'FAILED').padEnd(6)}  ${r.kind.padEnd(7)}  ${r.target.padEnd(width)}  ${r.detail} (${Math.round(r.durationMs)} ms)\n`,
        );
      }
      if (outcome.alertId !== null) ctx.out(`Recorded as alert ${outcome.alertId} (see "tlsrpt alerts list").\n`);
      if (outcome.recordError) ctx.out(`Not recorded in the database: ${outcome.recordError} (run "tlsrpt migrate"?)\n`);
      if (outcome.results.some((r) => !r.ok)) ctx.exitCode = EXIT_FINDING;
    });

  const list = alerts
    .command('list')
    .description('show recent alerts, newest first, with the delivery state of each destination')
    .option('-n, --limit <count>', 'how many alerts', wholeNumber(1, 1_000_000), 20)
    .option('--domain <domain>', 'only alerts for this policy domain', domainName)
    .addOption(new Option('--kind <kind>', 'only alerts of this kind').choices(ALERT_KINDS));
  addFormatOption(list, 'table for people, json for programs (deliveries nested), csv for spreadsheets (one row per delivery)')
    .addHelpText(
      'after',
      `\nDelivery error codes:\n${Object.entries(DELIVERY_ERRORS)
        .map(([code, text]) => `  ${code.padEnd(20)} ${text}`)
        .join('\n')}`,
    )
    .action(async (opts: FormatOptions & { limit: number; domain?: string; kind?: string }) => {
      const format = outputFormat(opts);
      const config = ctx.loadConfig();
      const pool = createPool(config.databaseUrl, { max: 1, applicationName: 'tlsrpt-cli' });
      try {
        const rows = await listAlerts(pool, { limit: opts.limit, domain: opts.domain ?? null, kind: opts.kind ?? null });
        ctx.out(formatAlertList(rows, format));
      } finally {
        await pool.end();
      }
    });

  const explain = alerts
    .command('explain')
    .description('what a TLS-RPT result type means and how to fix it (all of them without an argument)')
    .argument('[result-type]', 'e.g. certificate-expired');
  addFormatOption(explain).action((resultType: string | undefined, opts: FormatOptions) => {
    const format = outputFormat(opts);
    const types = resultType ? [resultType] : [...Object.keys(RESULT_TYPES), NO_FAILURE_DETAILS];
    const rows = types.map((t) => {
      const info = t === NO_FAILURE_DETAILS ? { group: 'not in the IANA registry', ...NO_FAILURE_DETAILS_INFO } : explainResultType(t);
      return { result_type: t, group: info.group, meaning: info.meaning, fix: info.fix };
    });
    if (format !== 'table') {
      ctx.out(formatRows(EXPLAIN_COLUMNS, rows, format));
      return;
    }
    for (const r of rows) ctx.out(`${r.result_type} (${r.group})\n  What it means: ${r.meaning}\n  How to fix:    ${r.fix}\n`);
  });
}

type ListedAlert = Awaited<ReturnType<typeof listAlerts>>[number];

export function formatAlertList(alerts: readonly ListedAlert[], format: OutputFormat): string {
  if (format === 'json') return formatJson(alerts);
  if (format === 'csv') {
    const rows: Row[] = alerts.flatMap((a) => {
      const alert = {
        alert_id: a.id,
        created_at: a.createdAt.toISOString(),
        severity: a.severity,
        policy_domain: a.policyDomain,
        kind: a.kind,
        status: a.status,
        subject: a.subject,
      };
      if (!a.deliveries.length) return [alert];
      return a.deliveries.map((d) => ({
        ...alert,
        delivery_kind: d.kind,
        delivery_target: d.target,
        delivery_status: d.status,
        delivery_attempts: d.attempts,
        delivery_error_code: d.lastErrorCode,
        delivery_error: d.lastError,
      }));
    });
    return formatRows(LIST_CSV_COLUMNS, rows, 'csv');
  }
  if (!alerts.length) return 'No alerts recorded.\n';
  let text = '';
  // Subjects, domains and delivery errors carry report text: shown escaped (src/util/terminalText.ts).
  for (const a of alerts) {
    text += `#${a.id}  ${when(a.createdAt.toISOString())}  ${a.severity}  ${terminalText(a.policyDomain)}  ${a.kind}  ${a.status}\n`;
    text += `     ${terminalText(a.subject)}\n`;
    for (const d of a.deliveries) {
      const error = d.status !== 'delivered' && d.lastErrorCode ? `  ${d.lastErrorCode}: ${terminalText(d.lastError ?? '')}` : '';
      text += `     ${d.kind.padEnd(7)}  ${d.target}  ${d.status}, ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}${error}\n`;
    }
  }
  return text;
}
