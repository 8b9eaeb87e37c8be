/**
 * The query string of a dashboard list that pages newest first and may be narrowed to one policy domain
 * (GET /api/v1/reports, GET /api/v1/alerts): its schema, its type, and the domain as stored.
 */
import { normaliseDomainName } from '../rules/domainName.js';
import { pageProperties, type Page } from './routeSchemas.js';

export interface DomainPageQuery extends Page {
  domain?: string;
}

export const domainPageQuery = {
  type: 'object',
  properties: {
    domain: { type: 'string', maxLength: 253 },
    ...pageProperties,
  },
  additionalProperties: false,
} as const;

/** The domain asked for, normalised as policy domains are stored; null for every domain. */
export function queriedDomain(query: DomainPageQuery): string | null {
  return query.domain ? normaliseDomainName(query.domain) : null;
}
