/**
 * The dashboard's JSON API under /api/v1/ (README "Dashboard"): one plugin that every API route family
 * lives in, so that the OpenAPI document (/api/v1/openapi.json, made by @fastify/swagger from the routes'
 * own JSON schemas) describes all of them and the access rules of ./apiAccess.ts apply to each:
 *   - every request: the client address must be in UI_ALLOW (403 ui-forbidden);
 *   - every route but POST /session and the OpenAPI document: a live session (401 login-required);
 *   - every action (POST, DELETE): the X-CSRF-Token header (403), and the admin role where the route says so.
 * The numbers come from the SQL views and functions the CLI reads (src/stats/), so API, psql and CLI agree.
 */
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from '../db/pool.js';
import { allowedAddresses } from '../http/allowedAddresses.js';
import { HttpRefusal } from '../http/httpReplies.js';
import { alertRoutes } from './alertRoutes.js';
import { createApiAccess, type ApiUser } from './apiAccess.js';
import { domainRoutes } from './domainRoutes.js';
import { quarantineRoutes } from './quarantineRoutes.js';
import { reportViewRoutes } from './reportViewRoutes.js';
import { sessionRoutes } from './sessionRoutes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The dashboard user of an API request (set before the handler of every non-public API route). */
    apiUser: ApiUser | null;
  }
  interface FastifyContextConfig {
    /** Answered without a session (login, the OpenAPI document). */
    public?: boolean;
    /** Only for users with the admin role. */
    admin?: boolean;
  }
}

export const API_PREFIX = '/api/v1';

export interface ApiRoutesOptions {
  pool: Pool;
  /** UI_ALLOW as loaded: addresses and CIDR ranges, null for any client. */
  allow: readonly string[] | null;
  /** UI_TRUSTED_PROXY_HEADER (lower-case) or null. */
  proxyHeader: string | null;
  sessionHours: number;
  /** For the reprocess action: the worker's ceiling on a report's decompressed size. */
  reportMaxBytes: number;
  /** The mode of the MTA-STS policy this server hosts for a domain (README "MTA-STS"), or null when it hosts none. */
  publishedMode?: (domain: string) => string | null;
  /** Login attempts per client address per minute (default 10). */
  loginsPerMinute?: number;
}

export const apiRoutes: FastifyPluginAsync<ApiRoutesOptions> = async (app, o) => {
  const mayUse = allowedAddresses(o.allow);
  const access = createApiAccess({ pool: o.pool, proxyHeader: o.proxyHeader });

  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'tlsrpt dashboard API',
        version: '1',
        description:
          'The numbers behind the dashboard (/ui/), from the SQL views of README "Querying the reports". Log in with POST /api/v1/session; send the returned csrfToken as X-CSRF-Token with every POST and DELETE.',
      },
      components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'tlsrpt_session' } } },
      security: [{ session: [] }],
    },
  });

  app.decorateRequest('apiUser', null);
  app.addHook('onRequest', async (request) => {
    if (!mayUse(request.ip)) throw new HttpRefusal('ui-forbidden', `The dashboard is not open to ${request.ip}: add it to UI_ALLOW.`);
  });
  app.addHook('preHandler', async (request) => {
    const config = request.routeOptions.config;
    if (config.public) return;
    request.apiUser = await access.require(request, { admin: config.admin === true });
  });

  await app.register(
    async (api) => {
      await api.register(sessionRoutes, { pool: o.pool, sessionHours: o.sessionHours, loginsPerMinute: o.loginsPerMinute ?? 10 });
      await api.register(domainRoutes, { pool: o.pool, publishedMode: o.publishedMode ?? (() => null) });
      await api.register(reportViewRoutes, { pool: o.pool });
      await api.register(quarantineRoutes, { pool: o.pool, reportMaxBytes: o.reportMaxBytes });
      await api.register(alertRoutes, { pool: o.pool });
      api.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: API_PREFIX },
  );
};
