/**
 * `tlsrpt stats`, `tlsrpt readiness` and `tlsrpt ingest`: answer questions from the stored reports, and
 * backfill reports received before this service ran. Thin wiring: the decisions live in src/stats and
 * src/ingest, the numbers in the SQL views of migrations/0002.
 */
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { createPool, type Pool } from '../db/pool.js';
import { requireCurrentSchema } from '../db/requireCurrentSchema.js';
import { errorMessage } from '../errors.js';
import { findIngestSources } from '../ingest/findIngestSources.js';
import { ingestSources, type IngestSummary, type MessageResult } from '../ingest/ingestSources.js';
import { buildStatsQuery, STATS_GROUPINGS, type StatsGrouping } from '../stats/buildStatsQuery.js';
import { formatRows, type OutputFormat, type Row } from '../stats/formatRows.js';
import { queryReadiness, READINESS_COLUMNS, READINESS_DEFAULTS, type ReadinessRow } from '../stats/queryReadiness.js';
import { foldRollups } from '../rollup/foldRollups.js';
import { readRollupLag, rollupLagNotice } from '../rollup/rollupLag.js';
import type { CliContext } from './cliContext.js';
import { EXIT_FINDING, EXIT_USAGE, ExitStatusError, exitCodeFor } from './exitCodeFor.js';
import { collectDomain, parseDay, wholeNumber } from './optionParsers.js';
import { addFormatOption, outputFormat, type FormatOptions } from './outputFormat.js';

/** `tlsrpt stats` looks this many days back unless --since says otherwise. */
const STATS_DEFAULT_DAYS = 30;

export function registerStatsCommands(program: Command, ctx: CliContext): void {
  const stats = program
    .command('stats')
    .description(
      'print session and failure counts per policy domain from the stored reports (the SQL views of README "Querying the reports")',
    )
    .addOption(
      new Option('--domain <domain>', 'only this policy domain (repeat for several)').argParser(collectDomain).default([], 'every domain'),
    )
    .option('--since <date>', `first UTC day to include, YYYY-MM-DD (default: ${STATS_DEFAULT_DAYS} days ago)`, parseDay)
    .addOption(
      new Option('--by <grouping>', 'one row per domain, or per domain and day, reporter, policy type, failure result-type or receiving MX')
        .choices(STATS_GROUPINGS)
        .default('domain'),
    );
  addFormatOption(stats)
    .addHelpText(
      'after',
      `
Days are UTC days of each report's date-range (README "How days are counted"). Sessions that a reporter
lists under both tlsa and sts for one domain are counted once, except with --by policy-type, which shows
each type as reported. Rates are failed / (successful + failed) sessions.

Examples:
  tlsrpt stats                                   totals per domain, last ${STATS_DEFAULT_DAYS} days
  tlsrpt stats --domain example.com --by day     one line per day
  tlsrpt stats --by result-type --since 2025-01-01
  tlsrpt stats --by mx --format csv > failures-by-mx.csv`,
    )
    .action(async (opts: FormatOptions & { domain: string[]; since?: string; by: StatsGrouping }) => {
      const format = outputFormat(opts);
      const since = opts.since ?? daysBefore(todayUtc(), STATS_DEFAULT_DAYS);
      const query = buildStatsQuery({ by: opts.by, domains: opts.domain, since });
      await withPool(ctx.loadConfig(), 'tlsrpt-stats', async (pool) => {
        const rows = (await pool.query<Row>(query.text, query.values)).rows;
        // The totals are folded in by the workers a few seconds after storage; say so when they are far behind.
        // On stderr for json and csv, which scripts parse.
        const notice = rollupLagNotice(await readRollupLag(pool));
        if (notice) (format === 'table' ? ctx.out : ctx.err)(notice);
        if (rows.length === 0 && format === 'table') {
          ctx.out(`No reports${opts.domain.length ? ` for ${opts.domain.join(', ')}` : ''} since ${since}.\n`);
          ctx.out(
            opts.since
              ? 'To look further back, give an earlier --since YYYY-MM-DD.\n'
              : `To look further back than the default ${STATS_DEFAULT_DAYS} days, give --since YYYY-MM-DD.\n`,
          );
          return;
        }
        ctx.out(formatRows(query.columns, rows, format));
      });
    });

  const readiness = program
    .command('readiness')
    .description('say per policy domain whether its MTA-STS policy can move from testing to enforce, and why; exit 1 when any is not ready')
    .addOption(
      new Option('--domain <domain>', 'judge only this policy domain (repeat for several); a domain without reports is not ready')
        .argParser(collectDomain)
        .default([], 'every domain with reports in the window'),
    )
    .option('--days <n>', 'window: the last N whole UTC days before today', wholeNumber(1, 3660), READINESS_DEFAULTS.windowDays)
    .option(
      '--max-failure-rate <rate>',
      'highest failure rate that is still ready: a fraction (0.001) or a percentage (0.1%)',
      parseRate,
      READINESS_DEFAULTS.maxFailureRate,
    )
    .option('--min-days <n>', 'fewest days with reports in the window', wholeNumber(0, 3660), READINESS_DEFAULTS.minDays)
    .option('--min-reporters <n>', 'fewest distinct reporting organisations', wholeNumber(0, 1_000_000), READINESS_DEFAULTS.minReporters)
    .option('--as-of <date>', 'judge as if today were this UTC day, YYYY-MM-DD (to replay a past decision)', parseDay);
  addFormatOption(readiness)
    .addHelpText(
      'after',
      `
A domain is ready when, over the window, it has reports on at least --min-days days, from at least
--min-reporters organisations, with at least one session, and failed / (successful + failed) sessions is at
most --max-failure-rate (sessions reported under both tlsa and sts counted once). README "Readiness to
enforce" explains the rule and how to change it in SQL: enforce_readiness_for(days, rate, min_days, min_reporters).

Exit status: 0 every listed domain is ready, 1 any is not (or none has reports), 2 usage or configuration
error, or the database could not be read (unlike other commands, where a failure is 1: scripts read 1 as
"not ready").

Examples:
  tlsrpt readiness
  tlsrpt readiness --domain example.com --days 21 --max-failure-rate 0.5% || echo "not yet"`,
    )
    .action(
      async (
        opts: FormatOptions & {
          domain: string[];
          days: number;
          maxFailureRate: number;
          minDays: number;
          minReporters: number;
          asOf?: string;
        },
      ) => {
        const format = outputFormat(opts);
        if (opts.minDays > opts.days)
          throw new InvalidArgumentError(`--min-days ${opts.minDays} is more than --days ${opts.days}: no domain could be ready`);
        const options = {
          windowDays: opts.days,
          maxFailureRate: opts.maxFailureRate,
          minDays: opts.minDays,
          minReporters: opts.minReporters,
          asOf: opts.asOf ?? null,
          domains: opts.domain,
        };
        let rows: ReadinessRow[];
        try {
          rows = await withPool(ctx.loadConfig(), 'tlsrpt-readiness', (pool) => queryReadiness(pool, options));
        } catch (err) {
          // Scripts read exit 1 as "not ready": a verdict that could not be reached must not look like one.
          if (exitCodeFor(err) === EXIT_FINDING) throw new ExitStatusError(EXIT_USAGE, errorMessage(err), { cause: err });
          throw err;
        }
        ctx.out(formatReadiness(rows, format, opts.days));
        ctx.exitCode = rows.length > 0 && rows.every((r) => r.ready) ? 0 : EXIT_FINDING;
      },
    );

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
does that processing itself, so no worker needs to run; a message that fails unexpectedly is left to the
worker's retries. Files whose exact bytes were ingested or received before are skipped and counted as
duplicates, so running the command again on the same files adds nothing. Messages larger than
MAX_MESSAGE_SIZE are skipped, as SMTP would refuse them.

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
      const summary = await withPool(config, 'tlsrpt-ingest', async (pool) => {
        const retry = createRetryQueue(config, log);
        const showBar = ctx.io.stderr.isTTY === true && !opts.verbose && opts.format === 'text';
        const bar = showBar
          ? new SingleBar({
              format: ' {bar} {value}/{total} messages  {source}',
              // Only a terminal gets the bar, and only the process's own stderr is a terminal.
              stream: ctx.io.stderr as NodeJS.WriteStream,
              hideCursor: true,
              clearOnComplete: true,
            })
          : null;
        bar?.start(found.sources.length, 0, { source: '' });
        try {
          const ingested = await ingestSources(
            {
              pool,
              log,
              maxMessageBytes: config.smtp.maxMessageBytes,
              reportMaxBytes: config.worker.reportMaxBytes,
              maxAttempts: config.worker.maxAttempts,
              enqueue: retry.enqueue,
            },
            found.sources,
            found.skipped,
            {
              onMessagesFound: (count) => bar?.setTotal(bar.getTotal() + count - 1),
              onMessageDone: (result) => {
                bar?.increment(1, { source: shorten(result.source) });
                if (opts.verbose && opts.format === 'text') ctx.out(`${describeResult(result)}\n`);
              },
            },
          );
          // Count what was stored in the daily totals now, so that `tlsrpt stats` right after shows it
          // (a running worker would fold it within seconds; one folding already leaves it to that one).
          await foldRollups(pool);
          return ingested;
        } finally {
          bar?.stop();
          await retry.close();
        }
      });
      ctx.out(opts.format === 'json' ? `${JSON.stringify(summary, null, 2)}\n` : formatIngestSummary(summary));
      if (summary.pending > 0) ctx.exitCode = EXIT_FINDING;
    });
}

async function withPool<T>(config: Config, applicationName: string, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = createPool(config.databaseUrl, { max: 2, applicationName });
  try {
    await requireCurrentSchema(pool);
    return await fn(pool);
  } finally {
    await pool.end();
  }
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

export function formatReadiness(rows: readonly ReadinessRow[], format: OutputFormat, windowDays: number): string {
  if (format !== 'table') return formatRows(READINESS_COLUMNS, rows as unknown as Row[], format);
  if (rows.length === 0)
    return `No policy domain has reports in the last ${windowDays} days.\nTo look further back, give --days N (at most 3660).\n`;
  const columns = READINESS_COLUMNS.filter((c) => c.name !== 'reason');
  const table = formatRows(columns, rows as unknown as Row[], 'table');
  return `${table}\n${rows.map((r) => `${r.policy_domain}: ${r.ready ? 'ready' : 'NOT READY'}. ${r.reason}\n`).join('')}`;
}

export function formatIngestSummary(s: IngestSummary): string {
  const lines: string[] = [];
  lines.push(`Read ${s.messages} message${s.messages === 1 ? '' : 's'} from ${s.files} file${s.files === 1 ? '' : 's'}:`);
  const row = (label: string, n: number, note = '') =>
    lines.push(`  ${label.padEnd(12)}${String(n).padStart(7)}${note ? `  ${note}` : ''}`);
  row('stored', s.stored);
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

function shorten(path: string, max = 50): string {
  return path.length <= max ? path : `…${path.slice(-(max - 1))}`;
}

/** "0.001" or "0.1%" -> 0.001. */
export function parseRate(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(value.trim());
  const rate = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(rate >= 0 && rate <= 1)) throw new InvalidArgumentError(`"${value}" is not a rate from 0 to 1 (or 0% to 100%)`);
  return rate;
}

function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}

function daysBefore(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}
