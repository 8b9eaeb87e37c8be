/** `tlsrpt quarantine list|show` and `tlsrpt reprocess`: see what could not be stored, and try it again. */
import { InvalidArgumentError, type Command } from 'commander';
import { createAuthenticator } from '../auth/authenticateMessage.js';
import { describeAuthentication, type MessageAuthentication } from '../auth/verifyDkim.js';
import { createPool } from '../db/pool.js';
import { QUARANTINE_REASONS } from '../errors.js';
import { reprocessMessages, type ReprocessSummary } from '../pipeline/reprocessMessages.js';
import { terminalText } from '../util/terminalText.js';
import { formatRows, type Column, type OutputFormat, type Row } from '../stats/formatRows.js';
import type { CliContext } from './cliContext.js';
import { addFormatOption, formatJson, outputFormat, type FormatOptions } from './outputFormat.js';
import { wholeNumber } from './optionParsers.js';

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

/** The fields of `quarantine show`, in the order printed. */
const SHOW_FIELDS = [
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
  // Last, so that scripts reading the earlier fields by position keep working.
  'authentication',
  'source',
] as const;

/**
 * Where a pulled message came from (migrations/0009): the IMAP mailbox, UIDVALIDITY and UID, or the ingested
 * file and the message's position in it; null for SMTP and HTTPS.
 */
function messageSource(r: Record<string, unknown>): string | null {
  if (r.source_mailbox) return `${String(r.source_mailbox)} uidvalidity=${String(r.source_uidvalidity)} uid=${String(r.source_uid)}`;
  if (r.source_file) return r.source_position ? `${String(r.source_file)}:${String(r.source_position)}` : String(r.source_file);
  return null;
}

const REPROCESS_COLUMNS: Column[] = [
  { name: 'outcome', kind: 'text' },
  { name: 'reason', kind: 'text' },
  { name: 'messages', kind: 'count' },
];

const positiveInt = wholeNumber(1, Number.MAX_SAFE_INTEGER);

function reasonCode(v: string): string {
  if (!(v in QUARANTINE_REASONS))
    throw new InvalidArgumentError(`unknown reason "${v}"; one of: ${Object.keys(QUARANTINE_REASONS).join(', ')}`);
  return v;
}

function sinceTime(v: string): string {
  if (Number.isNaN(Date.parse(v))) throw new InvalidArgumentError(`"${v}" is not a date (YYYY-MM-DD) or ISO time`);
  return v;
}

export function registerQuarantineCommands(program: Command, ctx: CliContext): void {
  const quarantine = program.command('quarantine').description('inspect messages that could not be stored as reports');

  const list = quarantine
    .command('list')
    .description('list quarantined messages, newest first: id, received at, sender, reason, detail')
    .option('--reason <code>', 'only this reason', reasonCode)
    .option('--since <date>', 'only messages received on or after this date (YYYY-MM-DD or ISO time)', sinceTime)
    .option('--limit <n>', 'at most this many', wholeNumber(1, 100_000), 50);
  addFormatOption(list)
    .addHelpText('after', REASONS_HELP)
    .action(async (opts: FormatOptions & { reason?: string; since?: string; limit: number }) => {
      const format = outputFormat(opts);
      const pool = createPool(ctx.loadConfig().databaseUrl, { max: 1 });
      try {
        const rows = (
          await pool.query(
            `SELECT id, received_at, channel, coalesce(mail_from, remote_address) AS sender, reason,
                    CASE WHEN $4 = 'table' AND length(detail) > 100 THEN left(detail, 99) || '…' ELSE detail END AS detail
             FROM raw_messages
             WHERE status = 'quarantined' AND ($1::text IS NULL OR reason = $1) AND ($2::timestamptz IS NULL OR received_at >= $2)
             ORDER BY id DESC LIMIT $3`,
            [opts.reason ?? null, opts.since ?? null, opts.limit, format],
          )
        ).rows;
        if (rows.length === 0 && format === 'table') {
          ctx.out('No quarantined messages.\n');
          return;
        }
        ctx.out(
          formatRows(
            LIST_COLUMNS,
            rows.map((r) => ({ ...r, received_at: r.received_at.toISOString() })),
            format,
          ),
        );
      } finally {
        await pool.end();
      }
    });

  const show = quarantine
    .command('show')
    .description('print one message: its state, reason and detail; with --raw, its raw bytes as received')
    .argument('<id>', 'raw message id (the N of "queued as N")', positiveInt)
    .option('--raw', 'write the raw message to stdout instead (for a .eml file)');
  addFormatOption(show).action(async (id: number, opts: FormatOptions & { raw?: boolean }) => {
    const format = outputFormat(opts);
    const pool = createPool(ctx.loadConfig().databaseUrl, { max: 1 });
    try {
      const r = (await pool.query(`SELECT * FROM raw_messages WHERE id = $1`, [id])).rows[0];
      if (!r) throw new Error(`no message ${id}: "tlsrpt quarantine list" shows the ids`);
      if (opts.raw) {
        // Retention removed the bytes of a settled message (README "Retention"): its row is all there is.
        if (r.raw === null) throw new Error(`the raw bytes of message ${id} were removed after RETENTION_RAW_DAYS; only its state is kept`);
        ctx.out(r.raw);
        return;
      }
      ctx.out(formatMessage(r, format));
    } finally {
      await pool.end();
    }
  });

  const reprocess = program
    .command('reprocess')
    .description('run quarantined messages through the current parser again (after an upgrade), and report what became of them')
    .argument('[ids...]', 'only these message ids (quarantined or pending); default: every quarantined message')
    .option('--reason <code>', 'only messages quarantined for this reason', reasonCode)
    .option('--include-pending', 'also messages still waiting for a worker');
  addFormatOption(reprocess)
    .addHelpText(
      'after',
      '\nMessages already stored (or duplicate/conflict) are never rewritten, so running this twice changes nothing the second time.\nSafe while workers run.' +
        REASONS_HELP,
    )
    .action(async (idArgs: string[], opts: FormatOptions & { reason?: string; includePending?: boolean }) => {
      const format = outputFormat(opts);
      const ids = idArgs.length ? idArgs.map(reprocessId) : undefined;
      const config = ctx.loadConfig();
      const pool = createPool(config.databaseUrl, { max: 2 });
      const tty = ctx.io.stderr.isTTY === true;
      try {
        const summary = await reprocessMessages(
          {
            pool,
            reportMaxBytes: config.worker.reportMaxBytes,
            maxAttempts: 1,
            authenticator: createAuthenticator(config.worker.authentication),
          },
          { ids, reason: opts.reason, includePending: opts.includePending },
          (done, total) => {
            if (tty && (done % 50 === 0 || done === total)) ctx.err(`\rreprocessed ${done}/${total}`);
            if (tty && done === total) ctx.err('\n');
          },
        );
        ctx.out(formatReprocessSummary(summary, format));
      } finally {
        await pool.end();
      }
    });
}

function reprocessId(value: string): number {
  try {
    return positiveInt(value);
  } catch (err) {
    throw new InvalidArgumentError(`message id ${(err as Error).message}`);
  }
}

function formatMessage(r: Record<string, unknown>, format: OutputFormat): string {
  const fields: Row = {};
  for (const k of SHOW_FIELDS) {
    const v = k === 'source' ? messageSource(r) : r[k];
    // What DKIM verification found (README "Authentication (DKIM)"): the object in JSON, one line otherwise.
    if (k === 'authentication') {
      fields[k] = v == null ? null : format === 'json' ? (v as Row[string]) : describeAuthentication(v as MessageAuthentication);
      continue;
    }
    fields[k] = v instanceof Date ? v.toISOString() : Array.isArray(v) && format !== 'json' ? v.join(', ') : (v ?? null);
  }
  if (format === 'json') return formatJson(fields);
  if (format === 'csv')
    return formatRows(
      SHOW_FIELDS.map((name) => ({ name, kind: 'text' })),
      [fields],
      'csv',
    );
  return SHOW_FIELDS.map((k) => `${k.padEnd(15)} ${terminalText(String(fields[k] ?? ''))}\n`).join('');
}

export function formatReprocessSummary(summary: ReprocessSummary, format: OutputFormat): string {
  if (format === 'json') return formatJson(summary);
  if (format === 'csv') {
    const rows: Row[] = [
      ...Object.entries(summary.outcomes).map(([outcome, messages]) => ({ outcome, reason: null, messages })),
      ...Object.entries(summary.stillQuarantined).map(([reason, messages]) => ({ outcome: 'still-quarantined', reason, messages })),
      ...(summary.leftAlone.length ? [{ outcome: 'left-alone', reason: null, messages: summary.leftAlone.length }] : []),
    ];
    return formatRows(REPROCESS_COLUMNS, rows, 'csv');
  }
  let text = `selected: ${summary.selected}\n`;
  for (const [k, v] of Object.entries(summary.outcomes)) text += `  ${k}: ${v}\n`;
  for (const [k, v] of Object.entries(summary.stillQuarantined)) text += `  still quarantined, ${k}: ${v}\n`;
  if (summary.leftAlone.length) text += `left alone (already settled with a report): ${summary.leftAlone.join(', ')}\n`;
  return text;
}
