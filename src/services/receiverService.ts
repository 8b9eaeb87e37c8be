/** The SMTP receiver with its own pool and queue producer. */
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { once } from '../util/once.js';
import { createPool, type Pool } from '../db/pool.js';
import { createProducerConnection, createReportQueue, enqueueRawMessages } from '../queue/reportQueue.js';
import { createSmtpReceiver } from '../receive/smtpReceiver.js';
import { createGroupCommit } from '../db/groupCommit.js';
import { insertRawMessages, type RawInsert } from '../store/rawMessages.js';

/** Raw messages committed together at most: bounds the statement size (8 parameters a message). */
const RAW_GROUP_MAX = 64;

export interface ReceiverService {
  pool: Pool;
  port: number;
  /** Stops accepting, finishes in-flight messages, closes connections. */
  stop(): Promise<void>;
}

export async function startReceiverService(config: Config, log: Logger): Promise<ReceiverService> {
  // A short connect timeout: while Postgres is unreachable the sender gets 451 within seconds.
  const pool = createPool(config.databaseUrl, { max: 10, connectionTimeoutMillis: 3000, applicationName: 'tlsrpt-receiver' });
  const redis = createProducerConnection(config.redisUrl);
  const queue = createReportQueue(redis, config.queuePrefix);
  // Messages whose DATA ends while a commit is running are committed together by the next one; each
  // sender still gets its 250 only after the COMMIT that holds its message.
  const rawGroup = createGroupCommit((items: RawInsert[]) => insertRawMessages(pool, items), RAW_GROUP_MAX);
  // Jobs of messages committed together go to Redis in one addBulk (one round trip, one MULTI).
  const enqueueGroup = createGroupCommit((ids: number[]) => enqueueRawMessages(queue, ids).then(() => ids.map(() => undefined)), 256);
  const receiver = createSmtpReceiver(config, {
    pool,
    insert: (raw, envelope) => rawGroup.submit({ raw, envelope }),
    log,
    enqueue: (id) => enqueueGroup.submit(id),
  });
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
      await queue.close().catch(() => {});
      redis.disconnect();
      await pool.end();
    }),
  };
}
