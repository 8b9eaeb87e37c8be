/**
 * The IMAP readers of `tlsrpt imap` and of `tlsrpt serve` (when IMAP_URL is set): one reader per mailbox,
 * with their own pool and queue producer. SIGHUP with changed IMAP settings stops the readers (each after
 * the pass in progress) and starts them with the new ones.
 */
import type { Logger } from 'pino';
import type { Config, ImapConfig } from '../config/loadConfig.js';
import { createPool, type Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { createProducerConnection, createReportQueue, enqueueRawMessages } from '../queue/reportQueue.js';
import { once } from '../util/once.js';
import { startMailboxReader, type MailboxReader, type ReaderDeps, type ReaderTiming } from './mailboxReader.js';
import { createOAuth2TokenSource } from './oauth2Token.js';
import type { PullSummary } from './pullMailbox.js';

export interface ImapService {
  pool: Pool;
  stop(): Promise<void>;
  reload(next: Config): Promise<void>;
}

export interface ImapServiceOptions {
  timing?: ReaderTiming;
  onPass?: (summary: PullSummary) => void;
}

export async function startImapService(config: Config, log: Logger, options: ImapServiceOptions = {}): Promise<ImapService> {
  const pool = createPool(config.databaseUrl, { max: 4, applicationName: 'tlsrpt-imap', log });
  const redis = createProducerConnection(config.redisUrl, log);
  const queue = createReportQueue(redis, config.queuePrefix, log);
  const start = (imap: ImapConfig): MailboxReader[] => {
    const deps: ReaderDeps = {
      pool,
      log,
      enqueue: (ids) => enqueueRawMessages(queue, ids),
      maxMessageBytes: config.smtp.maxMessageBytes,
      processed: imap.processed,
      nonReport: imap.nonReport,
      imap,
      tokens: imap.oauth2 ? createOAuth2TokenSource(imap.oauth2) : null,
      timing: options.timing,
      onPass: options.onPass,
    };
    return imap.mailboxes.map((m) => startMailboxReader(deps, m));
  };
  let current = config.imap;
  let readers = start(current);
  log.info({ mailboxes: current.mailboxes.map((m) => m.label) }, 'IMAP readers started');
  const stopReaders = () => Promise.all(readers.map((r) => r.stop()));
  return {
    pool,
    async reload(next) {
      if (sameImapSettings(current, next.imap)) return;
      await stopReaders();
      current = next.imap;
      readers = start(current);
      log.info({ mailboxes: current.mailboxes.map((m) => m.label) }, 'IMAP readers restarted with the new settings');
    },
    stop: once(async () => {
      await stopReaders();
      await queue.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing the report queue failed'));
      redis.disconnect();
      await pool.end();
    }),
  };
}

function sameImapSettings(a: ImapConfig, b: ImapConfig): boolean {
  const plain = (c: ImapConfig) => JSON.stringify({ ...c, extraCa: c.extraCa ? c.extraCa.pem.toString('base64') : null });
  return plain(a) === plain(b);
}
