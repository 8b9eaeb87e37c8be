import { Option, type Command } from 'commander';
import { loadConfig } from '../config/loadConfig.js';
import { createPool } from '../db/pool.js';
import { QUARANTINE_REASONS } from '../errors.js';
import { reprocessMessages } from '../pipeline/reprocessMessages.js';
import { formatRows, OUTPUT_FORMATS, type Column, type OutputFormat } from '../stats/formatRows.js';

const REASONS_HELP = `\nReasons:\n${Object.entries(QUARANTINE_REASONS)
  .map(([k, v]) => `  ${k.padEnd(24)} ${v}`)
  .join('\n')}`;

const LIST_COLUMNS: Column[] = [
  { name: 'id', kind: 'count' },
  { name: 'received_at', kind: 'text' },
  { name: 'channel', kind: 'text' },
  { name: 'sender', kind: 'text' },
  { name: 'reason', kind: 'text' },
  { name: 'detail', kind: 'text' },
];

function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`"${v}" is not a positive whole number`);
  return Number(v);
}

function reasonCode(v: string): string {
  if (!(v in QUARANTINE_REASONS)) throw new Error(`unknown reason "${v}"; one of: ${Object.keys(QUARANTINE_REASONS).join(', ')}`);
  return v;
}

export function registerQuarantineCommands(program: Command): void {
  const quarantine = program.command('quarantine').description('inspect messages that could not be stored as reports');

  quarantine
    .command('list')
    .description('list quarantined messages, newest first: id, received at, sender, reason, detail')
    .option('--reason <code>', 'only this reason', reasonCode)
    .option('--since <date>', 'only messages received on or after this date (YYYY-MM-DD or ISO time)')
    .option('--limit <n>', 'at most this many', positiveInt, 50)
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .addHelpText('after', REASONS_HELP)
    .action(async (opts: { reason?: string; since?: string; limit: number; format: OutputFormat }) => {
      if (opts.since && Number.isNaN(Date.parse(opts.since))) throw new Error(`--since: "${opts.since}" is not a date`);
      const pool = createPool(loadConfig().databaseUrl, { max: 1 });
      try {
        const rows = (
          await pool.query(
            `SELECT id, received_at, channel, coalesce(mail_from, remote_address) AS sender, reason,
                    CASE WHEN $4 = 'table' AND length(detail) > 100 THEN left(detail, 99) || '…' ELSE detail END AS detail
             FROM raw_messages
             WHERE status = 'quarantined' AND ($1::text IS NULL OR reason = $1) AND ($2::timestamptz IS NULL OR received_at >= $2)
             ORDER BY id DESC LIMIT $3`,
            [opts.reason ?? null, opts.since ?? null, opts.limit, opts.format],
          )
        ).rows;
        if (rows.length === 0 && opts.format === 'table') {
          process.stdout.write('No quarantined messages.\n');
          return;
        }
        process.stdout.write(
          formatRows(
            LIST_COLUMNS,
            rows.map((r) => ({ ...r, received_at: r.received_at.toISOString() })),
            opts.format,
          ),
        );
      } finally {
        await pool.end();
      }
    });

  quarantine
    .command('show')
    .description('print one message: its state, reason and detail; with --raw, its raw bytes as received')
    .argument('<id>', 'raw message id (the N of "queued as N")', positiveInt)
    .option('--raw', 'write the raw message to stdout instead (for a .eml file)')
    .action(async (id: number, opts: { raw?: boolean }) => {
      const pool = createPool(loadConfig().databaseUrl, { max: 1 });
      try {
        const r = (await pool.query(`SELECT * FROM raw_messages WHERE id = $1`, [id])).rows[0];
        if (!r) throw new Error(`no message ${id}`);
        if (opts.raw) {
          process.stdout.write(r.raw);
          return;
        }
        for (const k of [
          'id',
          'channel',
          'received_at',
          'remote_address',
          'mail_from',
          'rcpt_to',
          'size_bytes',
          'status',
          'reason',
          'detail',
          'attempts',
          'last_error',
          'report_id',
        ]) {
          const v = r[k] instanceof Date ? r[k].toISOString() : Array.isArray(r[k]) ? r[k].join(', ') : r[k];
          process.stdout.write(`${k.padEnd(15)} ${v ?? ''}\n`);
        }
      } finally {
        await pool.end();
      }
    });

  program
    .command('reprocess')
    .description('run quarantined messages through the current parser again (after an upgrade), and report what became of them')
    .argument('[ids...]', 'only these message ids (quarantined or pending); default: every quarantined message')
    .option('--reason <code>', 'only messages quarantined for this reason', reasonCode)
    .option('--include-pending', 'also messages still waiting for a worker')
    .addHelpText(
      'after',
      '\nMessages already stored (or duplicate/conflict) are never rewritten, so running this twice changes nothing the second time.\nSafe while workers run.' +
        REASONS_HELP,
    )
    .action(async (ids: string[], opts: { reason?: string; includePending?: boolean }) => {
      const config = loadConfig();
      const pool = createPool(config.databaseUrl, { max: 2 });
      const tty = process.stderr.isTTY;
      try {
        const summary = await reprocessMessages(
          { pool, reportMaxBytes: config.worker.reportMaxBytes, maxAttempts: 1 },
          { ids: ids.length ? ids.map(positiveInt) : undefined, reason: opts.reason, includePending: opts.includePending },
          (done, total) => {
            if (tty && (done % 50 === 0 || done === total)) process.stderr.write(`\rreprocessed ${done}/${total}`);
            if (tty && done === total) process.stderr.write('\n');
          },
        );
        process.stdout.write(`selected: ${summary.selected}\n`);
        for (const [k, v] of Object.entries(summary.outcomes)) process.stdout.write(`  ${k}: ${v}\n`);
        for (const [k, v] of Object.entries(summary.stillQuarantined)) process.stdout.write(`  still quarantined, ${k}: ${v}\n`);
        if (summary.leftAlone.length) process.stdout.write(`left alone (already settled with a report): ${summary.leftAlone.join(', ')}\n`);
      } finally {
        await pool.end();
      }
    });
}
