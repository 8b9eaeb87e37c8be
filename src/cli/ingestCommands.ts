/**
 * `tlsrpt ingest`: backfill reports received before this service ran, from files, mbox files and Maildir
 * folders. Thin wiring: finding the files is src/ingest/findIngestSources.ts, reading and storing them
 * src/ingest/ingestSources.ts. This file shows progress (a bar on a terminal, a line every few seconds
 * otherwise) and prints the summary.
 */
import { SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { createPool } from '../db/pool.js';
import { requireCurrentSchema } from '../db/requireCurrentSchema.js';
import { errorMessage } from '../errors.js';
import { findIngestSources } from '../ingest/findIngestSources.js';
import { ingestSources, type IngestSummary, type MessageResult } from '../ingest/ingestSources.js';
import type { CliContext } from './cliContext.js';
import { createAuthenticator } from '../auth/authenticateMessage.js';
import { EXIT_FINDING } from './exitCodeFor.js';

/** Without a terminal (a log file, cron, CI), one progress line this often. */
const PROGRESS_LINE_INTERVAL_MS = 5000;

/**
 * Connections: one accepts a batch (duplicate lookup, INSERT) while another stores the previous group's
 * reports and a third folds stored reports into the daily totals; the rest serve quarantines and counts.
 * Every query finds its rows by key, as the worker's do.
 */
const INGEST_POOL_SIZE = 5;

export function registerIngestCommand(program: Command, ctx: CliContext): void {
  program
    .command('ingest')
    .description('backfill reports from .eml, .json and .json.gz files, mbox files and Maildir folders (directories are walked)')
    .argument('<path...>', 'files and directories to read')
    .addOption(
      new Option('--format <format>', "summary as text, or JSON with every message's outcome").choices(['text', 'json']).default('text'),
    )
    .option('--verbose', 'print the outcome of every message as it is processed')
    .addHelpText(
      'after',
      `
Every message goes the way mail received over SMTP goes: its bytes are stored in raw_messages, then it is
parsed, checked and stored as a report, a duplicate, a conflict, or quarantined with a reason. This command
does that processing itself, in batches as the worker does, so no worker needs to run; a message that fails
unexpectedly is left to the worker's retries. Files whose exact bytes were ingested or received before are
skipped and counted as duplicates, so running the command again on the same files adds nothing. Messages
larger than MAX_MESSAGE_SIZE are skipped, as SMTP would refuse them. mbox files of any size are read as a
stream. Reports whose date range ended more than ALERT_MAX_REPORT_AGE before they were stored raise no alert.

Exit status: 0 when every message was settled (quarantined ones included), 1 when some are left pending
or the command failed, 2 configuration error.

Examples:
  tlsrpt ingest ~/Maildir/.TLS-Reports
  tlsrpt ingest exported.mbox reports/*.json.gz`,
    )
    .action(async (paths: string[], opts: { format: 'text' | 'json'; verbose?: boolean }) => {
      const config = ctx.loadConfig();
      const found = await findIngestSources(paths);
      const log = pino({ name: 'tlsrpt-ingest', level: config.logLevel }, { write: (line: string) => ctx.err(line) });
      const verbose = opts.verbose === true && opts.format === 'text';
      const progress = createProgressDisplay(ctx, log, { bar: ctx.io.stderr.isTTY === true && !verbose && opts.format === 'text' });
      const summary = await withIngestPool(config, log, async (pool) => {
        const retry = createRetryQueue(config, log);
        try {
          const ingested = await ingestSources(
            {
              pool,
              log,
              maxMessageBytes: config.smtp.maxMessageBytes,
              reportMaxBytes: config.worker.reportMaxBytes,
              maxAttempts: config.worker.maxAttempts,
              maxReportAgeMs: config.alerts.maxReportAgeMs,
              authenticator: createAuthenticator(config.worker.authentication),
              enqueue: retry.enqueue,
            },
            found.sources,
            found.skipped,
            {
              onStart: (info) => progress.start(info.bytesTotal),
              onBatchDone: (info) => progress.update(info.bytesDone, info.messages),
              onMessageDone: verbose ? (result) => ctx.out(`${describeResult(result)}\n`) : undefined,
            },
            // Every outcome is kept only for the JSON output, which lists them all.
            { keepResults: opts.format === 'json' },
          );
          return ingested;
        } finally {
          progress.stop();
          await retry.close();
        }
      });
      ctx.out(
        opts.format === 'json' ? `${JSON.stringify(summary, null, 2)}\n` : formatIngestSummary(summary, config.alerts.maxReportAgeMs),
      );
      if (summary.pending > 0) ctx.exitCode = EXIT_FINDING;
    });
}

async function withIngestPool<T>(config: Config, log: Logger, fn: (pool: import('../db/pool.js').Pool) => Promise<T>): Promise<T> {
  const pool = createPool(config.databaseUrl, { max: INGEST_POOL_SIZE, applicationName: 'tlsrpt-ingest', keyedLookups: true, log });
  try {
    await requireCurrentSchema(pool);
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

interface ProgressDisplay {
  start(bytesTotal: number): void;
  update(bytesDone: number, messages: number): void;
  stop(): void;
}

/**
 * A bar on a terminal (bytes read of all the files, messages, rate, time left); otherwise a line on stderr
 * every PROGRESS_LINE_INTERVAL_MS, and a last one at the end if any was printed, so a long backfill run from
 * cron or a script shows it is alive.
 */
export function createProgressDisplay(
  ctx: { err: CliContext['err']; io: Pick<CliContext['io'], 'stderr'> },
  log: Logger,
  { bar: showBar, now = Date.now }: { bar: boolean; now?: () => number },
): ProgressDisplay {
  let startedAt = 0;
  let total = 0;
  let last: ProgressState = { elapsedMs: 0, bytesDone: 0, bytesTotal: 0, messages: 0 };
  let lastLineAt = 0;
  let linesPrinted = 0;
  const bar = showBar
    ? new SingleBar({
        format: ' {bar} {percentage}% | {messages} messages, {rate}/s | {left}',
        // Only a terminal gets the bar, and only the process's own stderr is a terminal.
        stream: ctx.io.stderr as NodeJS.WriteStream,
        hideCursor: true,
        clearOnComplete: true,
      })
    : null;
  const payload = (s: ProgressState) => ({ messages: s.messages, rate: Math.round(rateOf(s)), left: timeLeft(s) });
  return {
    start(bytesTotal) {
      startedAt = lastLineAt = now();
      total = bytesTotal;
      last = { elapsedMs: 0, bytesDone: 0, bytesTotal, messages: 0 };
      bar?.start(Math.max(total, 1), 0, payload(last));
    },
    update(bytesDone, messages) {
      const at = now();
      last = { elapsedMs: at - startedAt, bytesDone, bytesTotal: total, messages };
      if (bar) bar.update(bytesDone, payload(last));
      else if (at - lastLineAt >= PROGRESS_LINE_INTERVAL_MS) {
        lastLineAt = at;
        linesPrinted++;
        ctx.err(`${formatProgressLine(last)}\n`);
      }
    },
    stop() {
      try {
        bar?.stop();
      } catch (err) {
        // The bar is decoration: a terminal that went away must not hide the summary.
        log.debug({ err: errorMessage(err) }, 'ingest: could not clear the progress bar');
      }
      if (!bar && linesPrinted > 0) ctx.err(`${formatProgressLine({ ...last, elapsedMs: now() - startedAt })}\n`);
    },
  };
}

export interface ProgressState {
  elapsedMs: number;
  bytesDone: number;
  bytesTotal: number;
  messages: number;
}

function rateOf(s: ProgressState): number {
  return s.elapsedMs > 0 ? (s.messages * 1000) / s.elapsedMs : 0;
}

/** "about 3m 5s left", from the bytes still to read at the pace so far. */
function timeLeft(s: ProgressState): string {
  if (s.bytesDone >= s.bytesTotal) return 'done';
  if (s.bytesDone === 0 || s.elapsedMs === 0) return 'estimating time left';
  const ms = (s.elapsedMs / s.bytesDone) * (s.bytesTotal - s.bytesDone);
  return `about ${formatDuration(ms)} left`;
}

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
}

/** "ingest: 12000 messages (1502/s), 340 of 5120 MB read (7%), about 3m 5s left" */
export function formatProgressLine(s: ProgressState): string {
  const mb = (b: number) => (b / 2 ** 20).toFixed(b < 10 * 2 ** 20 ? 1 : 0);
  const percent = s.bytesTotal > 0 ? Math.floor((s.bytesDone * 100) / s.bytesTotal) : 100;
  return `ingest: ${s.messages} messages (${Math.round(rateOf(s))}/s), ${mb(s.bytesDone)} of ${mb(s.bytesTotal)} MB read (${percent}%), ${timeLeft(s)}`;
}

/**
 * The queue is only opened when a message has to be handed to the worker: a backfill needs no Redis, and
 * BullMQ is loaded only then, which keeps every other command quick to start.
 */
function createRetryQueue(config: Config, log: Logger): { enqueue: (id: number) => Promise<void>; close: () => Promise<void> } {
  let opened: Promise<{ queue: import('bullmq').Queue<import('../queue/reportQueue.js').ReportJob>; disconnect: () => void }> | null = null;
  const open = async () => {
    const { createProducerConnection, createReportQueue } = await import('../queue/reportQueue.js');
    const connection = createProducerConnection(config.redisUrl);
    return { queue: createReportQueue(connection, config.queuePrefix), disconnect: () => connection.disconnect() };
  };
  return {
    async enqueue(id) {
      opened ??= open();
      const { queue } = await opened;
      const { enqueueRawMessages } = await import('../queue/reportQueue.js');
      await enqueueRawMessages(queue, [id]);
      log.info({ rawMessageId: id }, 'ingest: handed to the worker queue');
    },
    async close() {
      if (!opened) return;
      const { queue, disconnect } = await opened;
      // Closing is best effort: the messages are in raw_messages, and the worker's sweep queues them again.
      await queue.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'ingest: closing the queue failed'));
      disconnect();
    },
  };
}

/** "3d", "72h" (whole days or hours), else minutes: how ALERT_MAX_REPORT_AGE is shown in the summary. */
function formatAge(ms: number): string {
  return ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 60_000)}m`;
}

export function formatIngestSummary(s: IngestSummary, maxReportAgeMs: number | null = null): string {
  const lines: string[] = [];
  lines.push(`Read ${s.messages} message${s.messages === 1 ? '' : 's'} from ${s.files} file${s.files === 1 ? '' : 's'}:`);
  const row = (label: string, n: number, note = '') =>
    lines.push(`  ${label.padEnd(12)}${String(n).padStart(7)}${note ? `  ${note}` : ''}`);
  const age = maxReportAgeMs === null ? 'ALERT_MAX_REPORT_AGE' : `ALERT_MAX_REPORT_AGE (${formatAge(maxReportAgeMs)})`;
  row(
    'stored',
    s.stored,
    s.tooOldToAlert ? `(${s.tooOldToAlert} too old to alert: their date range ended more than ${age} before they were stored)` : '',
  );
  row(
    'duplicate',
    s.duplicate,
    s.duplicate ? `(${s.alreadyIngested} received before byte for byte, ${s.duplicateReport} a report already stored)` : '',
  );
  row('conflict', s.conflict, s.conflict ? '(same reporter and report-id as a stored report, other content: the first is kept)' : '');
  row('quarantined', s.quarantined, s.quarantined ? '(see README "Quarantine reasons")' : '');
  for (const [reason, n] of Object.entries(s.quarantinedByReason).sort()) lines.push(`    ${reason.padEnd(24)}${String(n).padStart(5)}`);
  if (s.pending) row('pending', s.pending, '(processing failed; left to the worker, see the log)');
  if (s.tooLarge) row('too large', s.tooLarge, '(over MAX_MESSAGE_SIZE; not stored)');
  if (s.skipped.length) {
    lines.push(`Skipped ${s.skipped.length} file${s.skipped.length === 1 ? '' : 's'}:`);
    for (const f of s.skipped) lines.push(`  ${f.path}: ${f.why}`);
  }
  return `${lines.join('\n')}\n`;
}

function describeResult(r: MessageResult): string {
  const id = r.rawMessageId === null ? '' : ` (raw message ${r.rawMessageId})`;
  const why = r.reason ? ` ${r.reason}: ${r.detail}` : r.detail ? ` ${r.detail}` : '';
  return `${r.outcome.padEnd(16)} ${r.source}${id}${why}`;
}
