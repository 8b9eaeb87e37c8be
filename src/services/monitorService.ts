/**
 * METRICS_PORT for the processes that have no HTTP server of their own (`tlsrpt receiver`, `worker`, `imap`):
 * /metrics, /healthz and /readyz in plain HTTP, the same route plugins and METRICS_ALLOW rule as the HTTP
 * service, so every process of a deployment can be probed and scraped. `serve` and `http` serve METRICS_PORT
 * from their HTTP service instead (one registry per process).
 */
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { createPool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { createHttpServer } from '../http/createHttpServer.js';
import { createMonitoring } from '../http/monitoring.js';
import { createProducerConnection, createReportQueue } from '../queue/reportQueue.js';
import type { CertificateSource } from '../tls/certificateSource.js';
import { once } from '../util/once.js';

export interface MonitorService {
  port: number;
  stop(): Promise<void>;
}

/** Null when METRICS_PORT is unset. */
export async function startMonitorService(
  config: Config,
  log: Logger,
  options: { certificates?: readonly CertificateSource[] } = {},
): Promise<MonitorService | null> {
  const listener = config.http.metricsListener;
  if (!listener) return null;
  // Its own small pool and connection: a scrape or a probe never waits behind the process's own work.
  const pool = createPool(config.databaseUrl, { max: 2, connectionTimeoutMillis: 3000, applicationName: 'tlsrpt-monitor', log });
  const redis = createProducerConnection(config.redisUrl, log);
  const queue = createReportQueue(redis, config.queuePrefix, log);
  const { metrics, plugins } = createMonitoring(config, { pool, redis, queue, log, certificates: options.certificates ?? [] });
  const server = createHttpServer(config, { log, metrics }, plugins, { tls: null, listener });
  const release = async () => {
    await queue.close().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'closing the report queue failed'));
    redis.disconnect();
    await pool.end();
  };
  let port: number;
  try {
    port = await server.listen();
  } catch (err) {
    await server.close().catch((closeErr: unknown) => log.warn({ err: errorMessage(closeErr) }, 'closing the metrics listener failed'));
    await release();
    throw new Error(`cannot listen on ${listener.host}:${listener.port} (METRICS_HOST, METRICS_PORT): ${errorMessage(err)}`, {
      cause: err,
    });
  }
  log.info({ host: listener.host, port }, 'metrics and health checks listening (plain HTTP)');
  return {
    port,
    stop: once(async () => {
      await server.close();
      await release();
    }),
  };
}
