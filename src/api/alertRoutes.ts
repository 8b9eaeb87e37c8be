/** GET /api/v1/alerts: the alerts sent, newest first, each with its deliveries and how they ended. */
import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from '../db/pool.js';
import { domainPageQuery, queriedDomain, type DomainPageQuery } from './domainPageQuery.js';

export interface AlertRoutesOptions {
  pool: Pool;
}

export const alertRoutes: FastifyPluginAsync<AlertRoutesOptions> = async (app, o) => {
  app.get<{ Querystring: DomainPageQuery }>(
    '/alerts',
    {
      schema: {
        summary: 'Alerts, newest first, with their deliveries',
        tags: ['alerts'],
        querystring: domainPageQuery,
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const domain = queriedDomain(request.query);
      const res = await o.pool.query(
        `SELECT a.id, a.created_at, a.kind, a.severity, a.policy_domain, a.subject, a.status, a.last_error,
                coalesce((SELECT jsonb_agg(jsonb_build_object('result_type', i.result_type, 'failed_sessions', i.failed_sessions,
                                   'critical', i.critical, 'triggered', i.triggered) ORDER BY i.failed_sessions DESC)
                          FROM alert_items i WHERE i.alert_id = a.id), '[]') AS items,
                coalesce((SELECT jsonb_agg(jsonb_build_object('kind', d.destination_kind, 'target', d.target, 'status', d.status,
                                   'attempts', d.attempts, 'last_error_code', d.last_error_code, 'last_error', d.last_error,
                                   'delivered_at', d.delivered_at) ORDER BY d.id)
                          FROM alert_deliveries d WHERE d.alert_id = a.id), '[]') AS deliveries
         FROM alerts a WHERE $1::text IS NULL OR a.policy_domain = $1
         ORDER BY a.created_at DESC, a.id DESC LIMIT $2 OFFSET $3`,
        [domain, limit, offset],
      );
      return { alerts: res.rows };
    },
  );
};
