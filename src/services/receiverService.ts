/** The SMTP receiver with its own pool and queue producer. */
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { once } from '../util/once.js';
import { errorMessage } from '../errors.js';
import { createPool, type Pool } from '../db/pool.js';
import { createProducerConnection, createReportQueue } from '../queue/reportQueue.js';
import { createRawIntake } from '../receive/rawIntake.js';
import { createSmtpReceiver } from '../receive/smtpReceiver.js';

export interface ReceiverService {
  pool: Pool;
  port: number;
  /** Stops accepting, finishes in-flight messages, closes connections. */
  stop(): Promise<void>;
  /** SIGHUP: offers the certificate files' new contents to new STARTTLS connections. */
  reload(next: Config): Promise<void>;
}

export async function startReceiverService(config: Config, log: Logger): Promise<ReceiverService> {
  // A short connect timeout: while Postgres is unreachable the sender gets 451 within seconds.
  const pool = createPool(config.databaseUrl, { max: 10, connectionTimeoutMillis: 3000, applicationName: 'tlsrpt-receiver', log });
  const redis = createProducerConnection(config.redisUrl, log);
  const queue = createReportQueue(redis, config.queuePrefix, log);
  const receiver = createSmtpReceiver(config, {
    pool,
    log,
    ...createRawIntake(pool, queue, { commitTimeoutMs: config.smtp.commitTimeoutMs }),
  });
  const port = await receiver.listen();
  log.info({ host: config.smtp.host, port, starttls: Boolean(config.smtp.tls) }, 'SMTP receiver listening');
  if (config.smtp.acceptedRecipients.length === 0) {
    log.warn('ACCEPTED_RECIPIENTS is not set: mail for any recipient is accepted. Set it before exposing this port to the internet.');
  }
  // The pair in service. Its paths are fixed at start (a new path needs a restart); its contents are
  // re-read by every loadConfig, so a reload compares bytes.
  let served = config.smtp.tls;
  const reload = async (next: Config): Promise<void> => {
    const tls = next.smtp.tls;
    if (!served || !tls || tls.certPath !== served.certPath || tls.keyPath !== served.keyPath) return;
    if (tls.cert.equals(served.cert) && tls.key.equals(served.key)) {
      log.info({ cert: tls.certPath }, 'STARTTLS certificate unchanged');
      return;
    }
    try {
      receiver.updateTls(tls);
    } catch (err) {
      log.warn(
        { err: errorMessage(err), cert: tls.certPath, key: tls.keyPath },
        'STARTTLS certificate not reloaded; still offering the previous one',
      );
      return;
    }
    served = tls;
    log.info({ cert: tls.certPath }, 'STARTTLS certificate reloaded');
  };
  return {
    pool,
    port,
    reload,
    stop: once(async () => {
      await receiver.close();
      await queue.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing the report queue failed'));
      redis.disconnect();
      await pool.end();
    }),
  };
}
