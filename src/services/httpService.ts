/** The HTTPS receiver (report endpoint, /metrics, /healthz, /readyz) with its own pool and queue producer. */
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { createPool, type Pool } from '../db/pool.js';
import { checkDependencies } from '../health/checkDependencies.js';
import { createMetrics } from '../metrics/createMetrics.js';
import { errorMessage } from '../errors.js';
import { createProducerConnection, createReportQueue } from '../queue/reportQueue.js';
import { createRawIntake } from '../receive/rawIntake.js';
import { loadHostedPolicies } from '../policy/host/loadHostedPolicies.js';
import { policyHostPlugin } from '../policy/host/policyHostPlugin.js';
import { createHttpReceiver, type HttpReceiver, type HttpReceiverOptions, type TlsReloadResult } from '../receive/httpReceiver.js';

export interface HttpService {
  pool: Pool;
  port: number;
  receiver: HttpReceiver;
  /** Re-reads TLS_CERT/TLS_KEY (what SIGHUP does). */
  reloadTls(): Promise<TlsReloadResult>;
  /** Stops accepting, finishes requests in progress, closes connections. */
  stop(): Promise<void>;
}

export async function startHttpService(config: Config, log: Logger, options: HttpReceiverOptions = {}): Promise<HttpService> {
  // MTA-STS policies hosted at https://mta-sts.<domain>/.well-known/mta-sts.txt (README "MTA-STS"). Loaded and
  // validated before anything listens: an invalid policy stops start-up with its file and line.
  const hosted = loadHostedPolicies(config.mtaSts);
  for (const p of hosted.values()) {
    for (const w of p.warnings)
      log.warn({ domain: p.domain, source: p.source, line: w.line, code: w.code }, `MTA-STS policy: ${w.message}`);
  }
  if (hosted.size > 0) {
    log.info({ domains: [...hosted.keys()] }, 'hosting MTA-STS policies');
    options = { ...options, plugins: [...(options.plugins ?? []), { plugin: policyHostPlugin, options: { policies: hosted } }] };
  }
  // A short connect timeout: while Postgres is unreachable the sender gets 503 within seconds.
  const pool = createPool(config.databaseUrl, { max: 10, connectionTimeoutMillis: 3000, applicationName: 'tlsrpt-http', log });
  const redis = createProducerConnection(config.redisUrl, log);
  const queue = createReportQueue(redis, config.queuePrefix, log);
  const metrics = createMetrics({ pool, queue, log, domains: config.http.metrics.domains, maxDomains: config.http.metrics.maxDomains });
  const receiver = createHttpReceiver(
    config,
    { pool, log, metrics, ...createRawIntake(pool, queue), readiness: () => checkDependencies({ pool, redis }) },
    options,
  );
  const release = async () => {
    await queue.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing the report queue failed'));
    redis.disconnect();
    await pool.end();
  };
  let port: number;
  try {
    port = await receiver.listen();
  } catch (err) {
    await receiver.close().catch((closeErr: unknown) => log.warn({ err: errorMessage(closeErr) }, 'closing the HTTP server failed'));
    await release();
    throw new Error(`cannot listen on ${config.http.host}:${config.http.port} (HTTP_HOST, HTTP_PORT): ${(err as Error).message}`, {
      cause: err,
    });
  }
  log.info(
    { host: config.http.host, port, https: config.http.tls, reportPath: config.http.reportPath },
    `${config.http.tls ? 'HTTPS' : 'HTTP'} server listening`,
  );
  return {
    pool,
    port,
    receiver,
    reloadTls: () => receiver.reloadTls(),
    async stop() {
      await receiver.close();
      await release();
    },
  };
}
