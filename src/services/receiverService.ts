/** The SMTP receiver with its own pool and queue producer. */
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { once } from '../util/once.js';
import { ConfigError, errorMessage } from '../errors.js';
import { createPool, type Pool } from '../db/pool.js';
import { createProducerConnection, createReportQueue } from '../queue/reportQueue.js';
import { createRawIntake } from '../receive/rawIntake.js';
import { createSmtpReceiver } from '../receive/smtpReceiver.js';
import type { CertificateSource } from '../tls/certificateSource.js';
import { createServedPair, type ServedPair } from '../tls/servedPair.js';
import { createTlsReloader } from '../tls/tlsReloader.js';

export interface ReceiverService {
  pool: Pool;
  port: number;
  /** Stops accepting, finishes in-flight messages, closes connections. */
  stop(): Promise<void>;
  /** SIGHUP: offers the certificate files' new contents to new STARTTLS connections. */
  reload(next: Config): Promise<void>;
  /** The STARTTLS pair, for the certificate series of /metrics (none without STARTTLS). */
  certificates: readonly CertificateSource[];
}

export interface ReceiverServiceOptions {
  /** How often the STARTTLS files are read again (default TLS_RELOAD_CHECK_SECONDS; tests go faster). */
  tlsWatchIntervalMs?: number;
}

export async function startReceiverService(config: Config, log: Logger, options: ReceiverServiceOptions = {}): Promise<ReceiverService> {
  // The pair in service. Its paths are fixed at start (a new path needs a restart); its files are read again
  // on SIGHUP and every TLS_RELOAD_CHECK_SECONDS, so a renewal reaches new STARTTLS sessions without a restart.
  let pair: ServedPair | null = null;
  if (config.smtp.tls) {
    try {
      pair = createServedPair('smtp', config.smtp.tls, (next) => receiver.updateTls(next), log);
    } catch (err) {
      throw new ConfigError(
        'SMTP_TLS_CERT',
        `the STARTTLS pair ${config.smtp.tls.certPath} and ${config.smtp.tls.keyPath} (SMTP_TLS_CERT/SMTP_TLS_KEY, or TLS_CERT/TLS_KEY) does not load: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }
  // A short connect timeout: while Postgres is unreachable the sender gets 451 within seconds.
  const pool = createPool(config.databaseUrl, { max: 10, connectionTimeoutMillis: 3000, applicationName: 'tlsrpt-receiver', log });
  const redis = createProducerConnection(config.redisUrl, log);
  const queue = createReportQueue(redis, config.queuePrefix, log);
  const intake = createRawIntake(pool, queue, { commitTimeoutMs: config.smtp.commitTimeoutMs });
  const receiver = createSmtpReceiver(config, { pool, log, insert: intake.insert, enqueue: intake.enqueue });
  const reloader = createTlsReloader(pair ? [pair.check] : []);
  const port = await receiver.listen();
  reloader.watch(options.tlsWatchIntervalMs ?? config.tlsReloadCheckMs);
  log.info(
    { host: config.smtp.host, port, starttls: Boolean(config.smtp.tls), cert: config.smtp.tls?.certPath },
    'SMTP receiver listening',
  );
  if (config.smtp.acceptedRecipients.length === 0) {
    log.warn('ACCEPTED_RECIPIENTS is not set: mail for any recipient is accepted. Set it before exposing this port to the internet.');
  }
  const reload = async (): Promise<void> => {
    await reloader.reload('signal');
  };
  return {
    pool,
    port,
    reload,
    certificates: pair ? [pair] : [],
    stop: once(async () => {
      reloader.unwatch();
      await receiver.close();
      await intake.drain();
      await queue.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing the report queue failed'));
      redis.disconnect();
      await pool.end();
    }),
  };
}
