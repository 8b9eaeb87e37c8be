/**
 * `tlsrpt stats` and `tlsrpt readiness`: answer questions from the stored reports (and `tlsrpt ingest`,
 * registered from ./ingestCommands.ts in its place among them). Thin wiring: the decisions live in src/stats,
 * the numbers in the SQL views of migrations/0002.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Config } from '../config/loadConfig.js';
import { createPool, type Pool } from '../db/pool.js';
import { requireCurrentSchema } from '../db/requireCurrentSchema.js';
import { errorMessage } from '../errors.js';
import { buildStatsQuery, STATS_GROUPINGS, type StatsGrouping } from '../stats/buildStatsQuery.js';
import { formatRows, type OutputFormat, type Row } from '../stats/formatRows.js';
import {
  AUTHENTICATED_READINESS_COLUMNS,
  queryReadiness,
  READINESS_COLUMNS,
  READINESS_DEFAULTS,
  type ReadinessRow,
} from '../stats/queryReadiness.js';
import { readRollupLag, rollupLagNotice } from '../rollup/rollupLag.js';
import type { CliContext } from './cliContext.js';
import { EXIT_FINDING, EXIT_USAGE, ExitStatusError, exitCodeFor } from './exitCodeFor.js';
import { registerIngestCommand } from './ingestCommands.js';
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
    .option('--as-of <date>', 'judge as if today were this UTC day, YYYY-MM-DD (to replay a past decision)', parseDay)
    .option('--authenticated-only', 'count only authenticated reporters (DKIM-signed mail, trusted HTTPS) towards --min-reporters');
  addFormatOption(readiness)
    .addHelpText(
      'after',
      `
A domain is ready when, over the window, it has reports on at least --min-days days, from at least
--min-reporters organisations, with at least one session, and failed / (successful + failed) sessions is at
most --max-failure-rate (sessions reported under both tlsa and sts counted once). Each reason ends by saying
how many reporters were authenticated; with --authenticated-only only those count towards --min-reporters
(README "Authentication (DKIM)"). README "Readiness to enforce" explains the rule and how to change it in SQL:
enforce_readiness_for(days, rate, min_days, min_reporters, as_of, authenticated_only).

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
          authenticatedOnly?: boolean;
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
          authenticatedOnly: opts.authenticatedOnly === true,
        };
        let rows: ReadinessRow[];
        try {
          rows = await withPool(ctx.loadConfig(), 'tlsrpt-readiness', (pool) => queryReadiness(pool, options));
        } catch (err) {
          // Scripts read exit 1 as "not ready": a verdict that could not be reached must not look like one.
          if (exitCodeFor(err) === EXIT_FINDING) throw new ExitStatusError(EXIT_USAGE, errorMessage(err), { cause: err });
          throw err;
        }
        ctx.out(formatReadiness(rows, format, opts.days, options.authenticatedOnly));
        ctx.exitCode = rows.length > 0 && rows.every((r) => r.ready) ? 0 : EXIT_FINDING;
      },
    );

  registerIngestCommand(program, ctx);
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

export function formatReadiness(
  rows: readonly ReadinessRow[],
  format: OutputFormat,
  windowDays: number,
  authenticatedOnly = false,
): string {
  // The authenticated_reporters column only when asked for: the output of scripts that did not ask stays as it was.
  const allColumns = authenticatedOnly ? AUTHENTICATED_READINESS_COLUMNS : READINESS_COLUMNS;
  if (format !== 'table') return formatRows(allColumns, rows as unknown as Row[], format);
  if (rows.length === 0)
    return `No policy domain has reports in the last ${windowDays} days.\nTo look further back, give --days N (at most 3660).\n`;
  const columns = allColumns.filter((c) => c.name !== 'reason');
  const table = formatRows(columns, rows as unknown as Row[], 'table');
  return `${table}\n${rows.map((r) => `${r.policy_domain}: ${r.ready ? 'ready' : 'NOT READY'}. ${r.reason}\n`).join('')}`;
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
