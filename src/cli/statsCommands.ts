/**
 * `tlsrpt stats`, `tlsrpt readiness` and `tlsrpt ingest`: answer questions from the stored reports, and
 * backfill reports received before this service ran. Thin wiring: the decisions live in src/stats and
 * src/ingest, the numbers in the SQL views of migrations/0002.
 */
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../config/loadConfig.js';
import { createPool, type Pool } from '../db/pool.js';
import { requireCurrentSchema } from '../db/requireCurrentSchema.js';
import { errorMessage } from '../errors.js';
import { findIngestSources } from '../ingest/findIngestSources.js';
import { ingestSources, type IngestSummary, type MessageResult } from '../ingest/ingestSources.js';
import { buildStatsQuery, STATS_GROUPINGS, type StatsGrouping } from '../stats/buildStatsQuery.js';
import { formatRows, OUTPUT_FORMATS, type OutputFormat, type Row } from '../stats/formatRows.js';
import { queryReadiness, READINESS_COLUMNS, READINESS_DEFAULTS, type ReadinessRow } from '../stats/queryReadiness.js';

/** `tlsrpt stats` looks this many days back unless --since says otherwise. */
const STATS_DEFAULT_DAYS = 30;

export function registerStatsCommands(program: Command): void {
  program
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
    )
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
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
    .action(async (opts: { domain: string[]; since?: string; by: StatsGrouping; format: OutputFormat }) => {
      const since = opts.since ?? daysBefore(todayUtc(), STATS_DEFAULT_DAYS);
      const query = buildStatsQuery({ by: opts.by, domains: opts.domain, since });
      await withPool(loadConfig(), 'tlsrpt-stats', async (pool) => {
        const rows = (await pool.query<Row>(query.text, query.values)).rows;
        if (rows.length === 0 && opts.format === 'table') {
          process.stdout.write(`No reports${opts.domain.length ? ` for ${opts.domain.join(', ')}` : ''} since ${since}.\n`);
          return;
        }
        process.stdout.write(formatRows(query.columns, rows, opts.format));
      });
    });

  program
    .command('readiness')
    .description('say per policy domain whether its MTA-STS policy can move from testing to enforce, and why; exit 1 when any is not ready')
    .addOption(
      new Option('--domain <domain>', 'judge only this policy domain (repeat for several); a domain without reports is not ready')
        .argParser(collectDomain)
        .default([], 'every domain with reports in the window'),
    )
    .option('--days <n>', 'window: the last N whole UTC days before today', parseCount(1, 3660), READINESS_DEFAULTS.windowDays)
    .option(
      '--max-failure-rate <rate>',
      'highest failure rate that is still ready: a fraction (0.001) or a percentage (0.1%)',
      parseRate,
      READINESS_DEFAULTS.maxFailureRate,
    )
    .option('--min-days <n>', 'fewest days with reports in the window', parseCount(0, 3660), READINESS_DEFAULTS.minDays)
    .option('--min-reporters <n>', 'fewest distinct reporting organisations', parseCount(0, 1_000_000), READINESS_DEFAULTS.minReporters)
    .option('--as-of <date>', 'judge as if today were this UTC day, YYYY-MM-DD (to replay a past decision)', parseDay)
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .addHelpText(
      'after',
      `
A domain is ready when, over the window, it has reports on at least --min-days days, from at least
--min-reporters organisations, with at least one session, and failed / (successful + failed) sessions is at
most --max-failure-rate (sessions reported under both tlsa and sts counted once). README "Readiness to
enforce" explains the rule and how to change it in SQL: enforce_readiness_for(days, rate, min_days, min_reporters).

Exit status: 0 every listed domain is ready, 1 any is not (or none has reports), 2 usage or configuration
error, or the database could not be read.

Examples:
  tlsrpt readiness
  tlsrpt readiness --domain example.com --days 21 --max-failure-rate 0.5% || echo "not yet"`,
    )
    // Scripts read exit 1 as "not ready": any other failure, including a bad option, must be 2.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(
      async (opts: {
        domain: string[];
        days: number;
        maxFailureRate: number;
        minDays: number;
        minReporters: number;
        asOf?: string;
        format: OutputFormat;
      }) => {
        let rows: ReadinessRow[];
        try {
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
          rows = await withPool(loadConfig(), 'tlsrpt-readiness', (pool) => queryReadiness(pool, options));
        } catch (err) {
          process.stderr.write(`tlsrpt readiness: ${errorMessage(err)}\n`);
          process.exit(2);
        }
        process.stdout.write(formatReadiness(rows, opts.format, opts.days));
        process.exitCode = rows.length > 0 && rows.every((r) => r.ready) ? 0 : 1;
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
      const config = loadConfig();
      const found = await findIngestSources(paths);
      const log = pino({ name: 'tlsrpt-ingest', level: config.logLevel }, pino.destination(2));
      const summary = await withPool(config, 'tlsrpt-ingest', async (pool) => {
        const retry = createRetryQueue(config, log);
        const showBar = process.stderr.isTTY && !opts.verbose && opts.format === 'text';
        const bar = showBar
          ? new SingleBar({
              format: ' {bar} {value}/{total} messages  {source}',
              stream: process.stderr,
              hideCursor: true,
              clearOnComplete: true,
            })
          : null;
        bar?.start(found.sources.length, 0, { source: '' });
        try {
          return await ingestSources(
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
                if (opts.verbose && opts.format === 'text') process.stdout.write(`${describeResult(result)}\n`);
              },
            },
          );
        } finally {
          bar?.stop();
          await retry.close();
        }
      });
      process.stdout.write(opts.format === 'json' ? `${JSON.stringify(summary, null, 2)}\n` : formatIngestSummary(summary));
      if (summary.pending > 0) process.exitCode = 1;
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
      await queue.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'ingest: closing the queue failed'));
      disconnect();
    },
  };
}

export function formatReadiness(rows: readonly ReadinessRow[], format: OutputFormat, windowDays: number): string {
  if (format !== 'table') return formatRows(READINESS_COLUMNS, rows as unknown as Row[], format);
  if (rows.length === 0) return `No policy domain has reports in the last ${windowDays} days.\n`;
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

function collectDomain(value: string, previous: string[]): string[] {
  const domain = value.trim().toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(domain)) throw new InvalidArgumentError(`"${value}" is not a domain name`);
  return [...previous, domain];
}

/** YYYY-MM-DD, a real calendar day. */
export function parseDay(value: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!d || d.toISOString().slice(0, 10) !== value) throw new InvalidArgumentError(`"${value}" is not a day in the form YYYY-MM-DD`);
  return value;
}

function parseCount(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`"${value}" is not a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
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
