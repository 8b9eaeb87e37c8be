/**
 * GET /metrics: the Prometheus text exposition (README "Metrics"), only for clients in METRICS_ALLOW (403
 * otherwise; private addresses by default). The per-domain numbers are for the operator, not for whoever
 * can reach the report endpoint. The client address is the one trustProxy resolves (HTTP_TRUST_PROXY).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../metrics/createMetrics.js';
import { HttpRefusal } from './httpReplies.js';
import { allowedAddresses } from './allowedAddresses.js';

export interface MetricsRoutesOptions {
  metrics: Pick<Metrics, 'registry'>;
  /** METRICS_ALLOW as loaded: addresses and CIDR ranges, null for any client. */
  allow: readonly string[] | null;
}

export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, options) => {
  const { registry } = options.metrics;
  const mayScrape = allowedAddresses(options.allow);
  app.get('/metrics', async (request, reply) => {
    if (!mayScrape(request.ip)) {
      throw new HttpRefusal('metrics-forbidden', `GET /metrics is not allowed from ${request.ip}: add it to METRICS_ALLOW.`);
    }
    reply.header('content-type', registry.contentType).send(await registry.metrics());
  });
};
