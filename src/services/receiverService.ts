/** The SMTP receiver with its own pool and queue producer. */
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { once } from '../util/once.js';
import { createPool, type Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { createProducerConnection, createReportQueue } from '../queue/reportQueue.js';
import { createRawIntake } from '../receive/rawIntake.js';
import { createSmtpReceiver } from '../receive/smtpReceiver.js';

export interface ReceiverService {
  pool: Pool;
  port: number;
  /** Stops accepting, finishes in-flight messages, closes connections. */
  stop(): Promise<void>;
}

export async function startReceiverService(config: Config, log: Logger): Promise<ReceiverService> {
  // A short connect timeout: while Postgres is unreachable the sender gets 451 within seconds.
  const pool = createPool(config.databaseUrl, { max: 10, connectionTimeoutMillis: 3000, applicationName: 'tlsrpt-receiver', log });
  const redis = createProducerConnection(config.redisUrl, log);
  const queue = createReportQueue(redis, config.queuePrefix, log);
  const receiver = createSmtpReceiver(config, { pool, log, ...createRawIntake(pool, queue) });
  const port = await receiver.listen();
  log.info({ host: config.smtp.host, port, starttls: Boolean(config.smtp.tls) }, 'SMTP receiver listening');
  if (config.smtp.acceptedRecipients.length === 0) {
    log.warn('ACCEPTED_RECIPIENTS is not set: mail for any recipient is accepted. Set it before exposing this port to the internet.');
  }
  return {
    pool,
    port,
    stop: once(async () => {
      await receiver.close();
      await queue.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing the report queue failed'));
      redis.disconnect();
      await pool.end();
    }),
  };
}
