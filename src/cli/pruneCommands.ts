/** `tlsrpt prune [--dry-run]`: what retention removes, now (README "Retention"). The workers do it daily. */
import type { Command } from 'commander';
import { createPool } from '../db/pool.js';
import { ensurePartitions } from '../retention/ensurePartitions.js';
import { pruneData, type PruneSummary } from '../retention/pruneData.js';
import { withRetentionLock } from '../retention/retentionJob.js';
import { formatRows, type Column, type OutputFormat, type Row } from '../stats/formatRows.js';
import type { CliContext } from './cliContext.js';
import { addFormatOption, formatJson, outputFormat, type FormatOptions } from './outputFormat.js';

const COLUMNS: Column[] = [
  { name: 'what', kind: 'text' },
  { name: 'older_than', kind: 'text' },
  { name: 'count', kind: 'count' },
  { name: 'bytes', kind: 'count' },
  { name: 'detail', kind: 'text' },
];

const HELP = `
What goes (README "Retention"; 0 keeps that kind forever):
  RETENTION_RAW_DAYS         raw bytes of stored, duplicate and conflict messages (the row stays)
  RETENTION_QUARANTINE_DAYS  quarantined messages, row and bytes
  RETENTION_REPORT_DAYS      reports, policies and failure details, by whole month; rows of settled messages
The daily totals are never removed: the daily views, readiness and /metrics keep the pruned days.
Pending messages are never removed. Safe while the pipeline runs: nothing it writes waits for the prune.
The workers run the same prune once a day; this command waits while one is running.`;

export function registerPruneCommands(program: Command, ctx: CliContext): void {
  const prune = program
    .command('prune')
    .description('remove raw bytes, quarantined messages and report details older than the RETENTION_* settings')
    .option('--dry-run', 'print what would be removed, and remove nothing');
  addFormatOption(prune)
    .addHelpText('after', HELP)
    .action(async (opts: FormatOptions & { dryRun?: boolean }) => {
      const format = outputFormat(opts);
      const config = ctx.loadConfig();
      const pool = createPool(config.databaseUrl, { max: 1, applicationName: 'tlsrpt-prune' });
      const tty = ctx.io.stderr.isTTY === true;
      try {
        const client = await pool.connect();
        try {
          const summary = await withRetentionLock(client, true, async () => {
            if (!opts.dryRun) await ensurePartitions(client);
            return pruneData(client, config.retention, {
              dryRun: opts.dryRun === true,
              progress: (m) => {
                if (tty) ctx.err(`${m}\n`);
              },
            });
          });
          ctx.out(formatPruneSummary(summary!, format));
        } finally {
          client.release();
        }
      } finally {
        await pool.end();
      }
    });
}

/** The summary as rows: one per kind of data, then one per month of reports. */
export function formatPruneSummary(summary: PruneSummary, format: OutputFormat): string {
  if (format === 'json') return formatJson(summary);
  const kept = (setting: string) => `kept (${setting}=0)`;
  const rows: Row[] = [
    {
      what: 'raw bytes of settled messages',
      older_than: summary.cutoffs.raw?.toISOString() ?? null,
      count: summary.rawBytes.messages,
      bytes: summary.rawBytes.bytes,
      detail: summary.cutoffs.raw ? 'the message rows stay' : kept('RETENTION_RAW_DAYS'),
    },
    {
      what: 'quarantined messages',
      older_than: summary.cutoffs.quarantine?.toISOString() ?? null,
      count: summary.quarantined.messages,
      bytes: summary.quarantined.bytes,
      detail: summary.cutoffs.quarantine ? 'row and bytes' : kept('RETENTION_QUARANTINE_DAYS'),
    },
    {
      what: 'rows of settled messages',
      older_than: summary.cutoffs.reports?.toISOString() ?? null,
      count: summary.messageRows.messages,
      bytes: null,
      detail: summary.cutoffs.reports ? null : kept('RETENTION_REPORT_DAYS'),
    },
    ...summary.months.map((m) => ({
      what: `reports stored in ${m.month}`,
      older_than: summary.cutoffs.reports?.toISOString() ?? null,
      count: m.reports,
      bytes: m.bytes,
      detail: `partitions ${m.partitions.join(', ')}`,
    })),
    ...summary.heldBack.map((h) => ({
      what: `reports stored in ${h.month}`,
      older_than: summary.cutoffs.reports?.toISOString() ?? null,
      count: null,
      bytes: null,
      detail: `kept for now: ${h.why}`,
    })),
  ];
  const table = formatRows(COLUMNS, rows, format);
  if (format !== 'table') return table;
  return `${summary.dryRun ? 'Would remove (dry run, nothing was changed):' : 'Removed:'}\n${table}`;
}
