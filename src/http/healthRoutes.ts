/**
 * GET /healthz (the process is running) and GET /readyz (it can take reports now: README "Health checks").
 * While the server shuts down both answer 503 before reaching here (fastify's return503OnClosing).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Readiness } from '../health/checkDependencies.js';

export interface HealthRoutesOptions {
  readiness: () => Promise<Readiness>;
}

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, options) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const readiness = await options.readiness();
    reply.code(readiness.ready ? 200 : 503).send(readiness);
  });
};
