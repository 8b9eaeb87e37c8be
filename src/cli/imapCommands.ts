/**
 * `tlsrpt imap`: read report mail from the mailboxes of IMAP_URL. Without --once it keeps running (IDLE or
 * polling, reconnecting with backoff); with --once it makes one pass over each mailbox, commits what is
 * there, prints what it did and exits (cron, tests). A refused login is a configuration error: exit status 2.
 */
import type { Command } from 'commander';
import { pino } from 'pino';
import { environmentHelp } from '../config/environmentHelp.js';
import { createPool } from '../db/pool.js';
import { requireCurrentSchema } from '../db/requireCurrentSchema.js';
import { errorMessage } from '../errors.js';
import { pullOnce } from '../imap/mailboxReader.js';
import { createOAuth2TokenSource } from '../imap/oauth2Token.js';
import type { PullSummary } from '../imap/pullMailbox.js';
import { createProducerConnection, createReportQueue, enqueueRawMessages } from '../queue/reportQueue.js';
import { formatRows, type Column } from '../stats/formatRows.js';
import type { CliContext } from './cliContext.js';
import { addFormatOption, outputFormat, type FormatOptions } from './outputFormat.js';

/** How long `--once` waits for Redis before it starts anyway. */
const REDIS_WAIT_MS = 5000;

const COLUMNS: readonly Column[] = [
  { name: 'mailbox', kind: 'text' },
  { name: 'examined', kind: 'count' },
  { name: 'stored', kind: 'count' },
  { name: 'alreadyStored', kind: 'count' },
  { name: 'nonReport', kind: 'count' },
  { name: 'tooLarge', kind: 'count' },
];

export function registerImapCommands(program: Command, ctx: CliContext): void {
  addFormatOption(
    program
      .command('imap')
      .description('read TLS reports from IMAP mailboxes (IMAP_URL): keep reading, or one pass with --once')
      .option('--once', 'one pass over each mailbox: commit what is there, print what was done, exit')
      .addHelpText('after', environmentHelp('imap'))
      .addHelpText(
        'after',
        '\nLogs are JSON lines on standard output (pino). To read them in a terminal:\n  tlsrpt imap | npx pino-pretty',
      ),
    'output of --once: table for people, json for programs, csv for spreadsheets',
  ).action(async (opts: FormatOptions & { once?: boolean }) => {
    const { runImap, noMailbox } = await import('../../workers/imap.js');
    if (!opts.once) {
      ctx.keepsRunning = true;
      await runImap(ctx.env());
      return;
    }
    const format = outputFormat(opts);
    const config = ctx.loadConfig();
    if (config.imap.mailboxes.length === 0) throw noMailbox();
    // The log goes to standard error, so that standard output holds only the table (or JSON, CSV) of the pass.
    const log = pino(
      { name: 'tlsrpt-imap', level: config.logLevel, base: { pid: process.pid } },
      { write: (line: string) => ctx.err(line) },
    );
    const pool = createPool(config.databaseUrl, { max: 2, applicationName: 'tlsrpt-imap' });
    const redis = createProducerConnection(config.redisUrl, log);
    const queue = createReportQueue(redis, config.queuePrefix, log);
    try {
      await requireCurrentSchema(pool);
      // The producer connection refuses commands until it is connected (it never queues them): wait for it a
      // little, so the first batch's jobs are not left to the worker's sweep. Redis down: the sweep does it.
      await Promise.race([queue.waitUntilReady(), new Promise<void>((resolve) => setTimeout(resolve, REDIS_WAIT_MS).unref())]).catch(
        (err: unknown) => log.warn({ err: errorMessage(err) }, 'Redis not reachable; the worker sweep will queue what is stored'),
      );
      const tokens = config.imap.oauth2 ? createOAuth2TokenSource(config.imap.oauth2) : null;
      const deps = {
        pool,
        log,
        enqueue: (ids: number[]) => enqueueRawMessages(queue, ids),
        maxMessageBytes: config.smtp.maxMessageBytes,
        processed: config.imap.processed,
        nonReport: config.imap.nonReport,
        imap: config.imap,
        tokens,
      };
      const rows: PullSummary[] = [];
      for (const mailbox of config.imap.mailboxes) rows.push(await pullOnce(deps, mailbox));
      ctx.out(formatRows(COLUMNS, rows as unknown as Array<Record<string, unknown>>, format));
    } finally {
      await queue.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing the report queue failed'));
      redis.disconnect();
      await pool.end();
    }
  });
}
