/**
 * The schema pieces the dashboard API's routes share, defined once so that every list pages alike and every
 * numeric id in a path is refused alike (fastify answers 400 for /reports/abc, /quarantine/0 or limit=501).
 */

/** The most rows one page of a list returns: a page the dashboard shows at once, and a bound on the query. */
export const MAX_PAGE_SIZE = 500;

/** One page of a list, newest first or in the list's order: `limit` rows after skipping `offset`. */
export interface Page {
  limit: number;
  offset: number;
}

/** The query-string properties of a page, to spread into a list's querystring schema. */
export const pageProperties = {
  limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: 50 },
  offset: { type: 'integer', minimum: 0, default: 0 },
} as const;

/** The path of a route on one stored row: `/<things>/:id`, a positive whole number. */
export const idParams = { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] } as const;

export interface IdParams {
  id: number;
}
