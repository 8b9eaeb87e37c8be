/**
 * GET /api/v1/domains (the Domains page: every policy domain with its readiness verdict, paged, sorted,
 * filtered) and GET /api/v1/domains/{domain} (the Domain page). The readiness thresholds are parameters, as
 * `tlsrpt readiness` takes them; the figures are those of the views (./domainQueries.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from '../db/pool.js';
import { HttpRefusal } from '../http/httpReplies.js';
import { normaliseDomainName } from '../rules/domainName.js';
import { READINESS_DEFAULTS } from '../stats/queryReadiness.js';
import {
  DAILY_BY,
  daysBefore,
  DOMAIN_SORTS,
  domainDetail,
  listDomains,
  todayUtc,
  type DailyBy,
  type DomainSort,
  type Thresholds,
} from './domainQueries.js';
import { pageProperties, type Page } from './routeSchemas.js';

export interface DomainRoutesOptions {
  pool: Pool;
  /** The mode of the policy this server hosts for a domain, or null. */
  publishedMode: (domain: string) => string | null;
}

const DAY = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } as const;

/** The readiness thresholds, named like the options of `tlsrpt readiness`. */
const THRESHOLDS = {
  days: {
    type: 'integer',
    minimum: 1,
    maximum: 3660,
    default: READINESS_DEFAULTS.windowDays,
    description: 'readiness window: the last N whole UTC days',
  },
  max_failure_rate: {
    type: 'number',
    minimum: 0,
    maximum: 1,
    default: READINESS_DEFAULTS.maxFailureRate,
    description: 'highest failure rate (a fraction: 0.001 = 0.1%) of a ready domain',
  },
  min_days: { type: 'integer', minimum: 0, maximum: 3660, default: READINESS_DEFAULTS.minDays, description: 'fewest days with reports' },
  min_reporters: {
    type: 'integer',
    minimum: 0,
    maximum: 1_000_000,
    default: READINESS_DEFAULTS.minReporters,
    description: 'fewest reporters',
  },
  authenticated_only: {
    type: 'boolean',
    default: false,
    description: 'count only authenticated reporters (DKIM-signed mail, trusted HTTPS) towards min_reporters',
  },
  as_of: { ...DAY, description: 'judge as if today were this UTC day' },
} as const;

interface ThresholdQuery {
  days: number;
  max_failure_rate: number;
  min_days: number;
  min_reporters: number;
  authenticated_only: boolean;
  as_of?: string;
}

const READINESS_ROW = {
  type: 'object',
  properties: {
    policy_domain: { type: 'string' },
    policy_mode: { type: ['string', 'null'], description: 'mode of the latest sts policy reported in the window' },
    ready: { type: 'boolean' },
    reason: { type: 'string' },
    days_with_reports: { type: 'integer' },
    reporters: { type: 'integer' },
    authenticated_reporters: {
      type: 'integer',
      description: 'reporters whose reports were authenticated (README "Authentication (DKIM)")',
    },
    successful_sessions: { type: 'integer' },
    failed_sessions: { type: 'integer' },
    failure_rate: { type: ['number', 'null'] },
    top_result_type: { type: ['string', 'null'] },
  },
} as const;

function thresholds(q: ThresholdQuery): Thresholds {
  if (q.min_days > q.days) {
    throw new HttpRefusal('invalid-parameter', `min_days ${q.min_days} is more than days ${q.days}: no domain could be ready.`);
  }
  return {
    windowDays: q.days,
    maxFailureRate: q.max_failure_rate,
    minDays: q.min_days,
    minReporters: q.min_reporters,
    authenticatedOnly: q.authenticated_only,
  };
}

export const domainRoutes: FastifyPluginAsync<DomainRoutesOptions> = async (app, o) => {
  app.get<{
    Querystring: ThresholdQuery & Page & { q: string; ready?: boolean; sort: DomainSort; order: 'asc' | 'desc' };
  }>(
    '/domains',
    {
      schema: {
        summary: 'Every policy domain with its readiness verdict over the window, a page at a time',
        tags: ['domains'],
        querystring: {
          type: 'object',
          properties: {
            ...THRESHOLDS,
            q: { type: 'string', maxLength: 253, default: '', description: 'only domains whose name contains this' },
            ready: { type: 'boolean', description: 'only ready (true) or not ready (false) domains' },
            sort: { type: 'string', enum: DOMAIN_SORTS, default: 'policy_domain' },
            order: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
            ...pageProperties,
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              total: { type: 'integer', description: 'domains matching the filters, all pages' },
              rollup: {
                type: 'object',
                description: 'how far the daily totals the figures come from are behind the stored reports',
                properties: { lag_seconds: { type: 'number' }, waiting: { type: 'integer' }, notice: { type: ['string', 'null'] } },
              },
              window: { type: 'object', properties: { from: DAY, until: DAY } },
              domains: {
                type: 'array',
                items: {
                  ...READINESS_ROW,
                  properties: {
                    ...READINESS_ROW.properties,
                    published_mode: {
                      type: ['string', 'null'],
                      description: 'mode of the MTA-STS policy this server hosts for the domain; null when it hosts none',
                    },
                    last_report_at: { type: ['string', 'null'], description: 'when the latest report naming the domain was stored' },
                    daily: {
                      type: 'array',
                      description: '[day, successful sessions, failed sessions] per day of the window with reports',
                      items: { type: 'array', items: [{ type: 'string' }, { type: 'integer' }, { type: 'integer' }] },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const list = await listDomains(o.pool, {
        ...thresholds(q),
        q: q.q,
        ready: q.ready ?? null,
        sort: q.sort,
        order: q.order,
        limit: q.limit,
        offset: q.offset,
        asOf: q.as_of ?? null,
      });
      return { ...list, domains: list.domains.map((d) => ({ ...d, published_mode: o.publishedMode(d.policy_domain) })) };
    },
  );

  app.get<{ Params: { domain: string }; Querystring: ThresholdQuery & { since?: string; by: DailyBy } }>(
    '/domains/:domain',
    {
      schema: {
        summary: 'One policy domain: sessions per day, failures by result type, MX and address, the modes reported, the verdict',
        tags: ['domains'],
        params: { type: 'object', properties: { domain: { type: 'string', maxLength: 253 } }, required: ['domain'] },
        querystring: {
          type: 'object',
          properties: {
            ...THRESHOLDS,
            since: { ...DAY, description: 'first UTC day of the charts and tables (default: 30 days ago)' },
            by: { type: 'string', enum: DAILY_BY, default: 'reporter', description: 'how daily_by splits each day' },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            additionalProperties: true,
            properties: { policy_domain: { type: 'string' }, since: DAY, readiness: READINESS_ROW },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const domain = normaliseDomainName(request.params.domain);
      const detail = await domainDetail(o.pool, {
        ...thresholds(q),
        domain,
        since: q.since ?? daysBefore(q.as_of ?? todayUtc(), 30),
        by: q.by,
        asOf: q.as_of ?? null,
      });
      if (!detail) throw new HttpRefusal('not-found', `No report names the policy domain "${domain}".`);
      return { ...detail, published_mode: o.publishedMode(domain) };
    },
  );
};
