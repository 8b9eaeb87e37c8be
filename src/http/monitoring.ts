/**
 * What every process that can be probed serves: its metrics registry and the monitoring routes (/metrics
 * under METRICS_ALLOW, /healthz, /readyz). The HTTP service mounts them beside its own routes (and on
 * METRICS_PORT); the monitor service of `receiver`, `worker` and `imap` mounts them alone.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import type { Pool } from '../db/pool.js';
import { checkDependencies } from '../health/checkDependencies.js';
import { createMetrics, type Metrics } from '../metrics/createMetrics.js';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ReportJob } from '../queue/reportQueue.js';
import type { CertificateSource } from '../tls/certificateSource.js';
import type { HttpPlugin } from './createHttpServer.js';
import { healthRoutes } from './healthRoutes.js';
import { metricsRoutes } from './metricsRoutes.js';

export function createMonitoring(
  config: Config,
  deps: { pool: Pool; redis: Redis; queue: Queue<ReportJob>; log: Logger; certificates: readonly CertificateSource[] },
): { metrics: Metrics; plugins: HttpPlugin[] } {
  const { pool, redis, queue, log, certificates } = deps;
  const metrics = createMetrics({
    pool,
    queue,
    log,
    domains: config.http.metrics.domains,
    maxDomains: config.http.metrics.maxDomains,
    certificates,
  });
  return {
    metrics,
    plugins: [
      { plugin: metricsRoutes, options: { metrics, allow: config.http.metrics.allow } },
      { plugin: healthRoutes, options: { readiness: () => checkDependencies({ pool, redis }) } },
    ],
  };
}
