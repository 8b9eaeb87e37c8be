/** `tlsrpt report show ID`: one stored report, who vouched for it, and what each of its copies proved. */
import type { Command } from 'commander';
import { loadReportAuthentication, type ReportAuthenticationView } from '../auth/loadReportAuthentication.js';
import { describeAuthentication } from '../auth/verifyDkim.js';
import { createPool } from '../db/pool.js';
import { formatRows, type OutputFormat } from '../stats/formatRows.js';
import type { CliContext } from './cliContext.js';
import { wholeNumber } from './optionParsers.js';
import { addFormatOption, formatJson, outputFormat, type FormatOptions } from './outputFormat.js';

export function registerReportCommands(program: Command, ctx: CliContext): void {
  const report = program.command('report').description('inspect stored reports');
  const show = report
    .command('show')
    .description(
      'print one stored report: reporter, range, policy domains, whether it is authenticated, and each copy received (DKIM result)',
    )
    .argument('<id>', 'report id (reports.id, raw_messages.report_id)', wholeNumber(1, Number.MAX_SAFE_INTEGER));
  addFormatOption(show).action(async (id: number, opts: FormatOptions) => {
    const format = outputFormat(opts);
    const pool = createPool(ctx.loadConfig().databaseUrl, { max: 1 });
    try {
      const view = await loadReportAuthentication(pool, id);
      if (!view) throw new Error(`no report ${id}: the id is reports.id (raw_messages.report_id of a stored message)`);
      ctx.out(formatReport(view, format));
    } finally {
      await pool.end();
    }
  });
}

export function formatReport(v: ReportAuthenticationView, format: OutputFormat): string {
  if (format === 'json') return formatJson(v);
  const copyLine = (c: ReportAuthenticationView['copies'][number]) =>
    c.authentication ? describeAuthentication(c.authentication) : 'not verified (received before DKIM verification)';
  if (format === 'csv')
    // One row per copy, with the report's fields repeated: what a spreadsheet filters.
    return formatRows(
      [
        'report_id',
        'organization_name',
        'authenticated',
        'authenticated_by',
        'raw_message_id',
        'channel',
        'status',
        'received_at',
        'authentication',
      ].map((name) => ({ name, kind: 'text' as const })),
      v.copies.map((c) => ({
        report_id: v.id,
        organization_name: v.organizationName,
        authenticated: v.authenticated,
        authenticated_by: v.authenticatedBy,
        raw_message_id: c.rawMessageId,
        channel: c.channel,
        status: c.status,
        received_at: c.receivedAt.toISOString(),
        authentication: copyLine(c),
      })),
      'csv',
    );
  const lines = [
    ['id', String(v.id)],
    ['organization', v.organizationName],
    ['report_id', v.reportId],
    ['date_range', `${v.startAt.toISOString()} .. ${v.endAt.toISOString()}`],
    ['policy_domains', v.policyDomains.join(', ')],
    ['authenticated', v.authenticated ? `yes, by ${v.authenticatedBy}` : 'no'],
  ].map(([k, val]) => `${k!.padEnd(15)} ${val}\n`);
  lines.push('copies:\n');
  for (const c of v.copies) {
    lines.push(`  raw message ${c.rawMessageId}, ${c.channel}, ${c.status}, received ${c.receivedAt.toISOString()}: ${copyLine(c)}\n`);
  }
  return lines.join('');
}
