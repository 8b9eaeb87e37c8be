/**
 * Every reply the HTTP server gives other than success, decided here in one place. Each refusal has a stable
 * kebab-case reason code (in the JSON body, the logs, the metric tlsrpt_http_reports_refused_total for the
 * report endpoint, and README "What a sender gets back") and a message that tells the client what to change.
 * REFUSALS is the one registry of the family.
 *
 * RFC 8460 5.4: the sender expects a "successful" response, "typically a 200 or 201"; anything else may be
 * retried "as per local policy". So every refusal that a later attempt can overcome (429, 503, 408) invites a
 * retry, and the ones it cannot (413, 415) say so.
 */

import { TlsrptError } from '../errors.js';

export const REFUSALS = {
  'empty-body': { status: 400, message: 'The POST body is empty: send the report itself as the body (RFC 8460 5.4).' },
  'body-length-mismatch': { status: 400, message: 'The body is shorter or longer than its Content-Length.' },
  'bad-request': { status: 400, message: 'The request could not be read as HTTP.' },
  'method-not-allowed': { status: 405, message: 'Reports are submitted with POST (RFC 8460 5.4).' },
  'body-timeout': { status: 408, message: 'The request did not arrive in full within HTTP_BODY_TIMEOUT_SECONDS; send it again.' },
  'body-too-large': {
    status: 413,
    message: 'The body is larger than this server accepts (HTTP_MAX_BODY_SIZE); compress the report with gzip.',
  },
  'unsupported-media-type': {
    status: 415,
    message: 'Send the report as application/tlsrpt+gzip or application/tlsrpt+json (RFC 8460 5.4).',
  },
  'unsupported-content-encoding': {
    status: 415,
    message: 'Only the gzip Content-Encoding is accepted; send the report uncompressed or as application/tlsrpt+gzip.',
  },
  'rate-limited': { status: 429, message: 'Too many reports from this address; try again after Retry-After seconds.' },
  'header-too-large': { status: 431, message: 'The request headers are too large.' },
  'internal-error': { status: 500, message: 'The report could not be accepted because of an error in this server; try again later.' },
  'storage-unavailable': {
    status: 503,
    message: 'The report could not be stored right now (database unavailable); nothing was kept, try again after Retry-After seconds.',
  },
  'metrics-forbidden': { status: 403, message: 'GET /metrics is not allowed from this address: add it to METRICS_ALLOW.' },
  // The dashboard and its API (src/api/, README "Dashboard").
  'invalid-parameter': {
    status: 400,
    message: 'A parameter of the request is not valid: the message names it; /api/v1/openapi.json lists them.',
  },
  'login-required': { status: 401, message: 'Log in first: POST /api/v1/session with {"username", "password"}, or open /ui/.' },
  'login-failed': { status: 401, message: 'Wrong user name or password.' },
  'ui-forbidden': { status: 403, message: 'The dashboard is not open to this address: add it to UI_ALLOW.' },
  'csrf-token-invalid': { status: 403, message: 'Send the X-CSRF-Token header that GET /api/v1/session returns with every action.' },
  'admin-required': { status: 403, message: 'This action needs a user with the admin role (tlsrpt user add NAME --role admin).' },
  'not-found': { status: 404, message: 'There is no such item: check the id or name.' },
  'too-many-logins': { status: 429, message: 'Too many login attempts from this address; try again after Retry-After seconds.' },
} as const;

export type RefusalReason = keyof typeof REFUSALS;

/**
 * How long a sender should wait after 503 (RFC 9110 10.2.3). Long enough for a database restart, short next to
 * the 24 hours over which RFC 8460 5.4 lets senders retry.
 */
export const RETRY_AFTER_SECONDS = 120;

/** A refused request: the reason code, its HTTP status, and a message for the sender. */
export class HttpRefusal extends TlsrptError {
  override readonly name = 'HttpRefusal';
  declare readonly code: RefusalReason;
  readonly statusCode: number;

  constructor(
    readonly reason: RefusalReason,
    message: string = REFUSALS[reason].message,
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(reason, message, options);
    this.statusCode = REFUSALS[reason].status;
  }

  body(): { error: RefusalReason; message: string } {
    return { error: this.reason, message: this.message };
  }
}

/** Any error raised while handling a report POST (fastify's, the rate limiter's, ours) -> the refusal to send. */
export function refusalFor(err: unknown): HttpRefusal {
  if (err instanceof HttpRefusal) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; statusCode?: unknown };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpRefusal('body-too-large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_TYPE':
      return new HttpRefusal('unsupported-media-type');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpRefusal('body-length-mismatch');
    case 'FST_ERR_CTP_EMPTY_TYPE':
      return new HttpRefusal('unsupported-media-type');
    case 'FST_ERR_VALIDATION':
      // A route's JSON schema refused a parameter (the dashboard API): fastify's message names it.
      return new HttpRefusal('invalid-parameter', `${(err as Error).message}; /api/v1/openapi.json describes the parameters.`);
  }
  if (e.statusCode === 429) return new HttpRefusal('rate-limited');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return new HttpRefusal('bad-request');
  return new HttpRefusal('internal-error', REFUSALS['internal-error'].message, {}, { cause: err });
}

/**
 * RFC 8460 5.4 names application/tlsrpt+gzip and application/tlsrpt+json. The others are labels real
 * senders put on reports (quirks 18, 19 and the mail samples); the worker reads the body by its magic bytes,
 * whatever the label.
 */
export const REPORT_MEDIA_TYPES = [
  'application/tlsrpt+gzip',
  'application/tlsrpt+json',
  'application/tlsrpt',
  'application/json',
  'application/gzip',
  'application/x-gzip',
  'application/octet-stream',
  'application/zip',
  'application/x-zip-compressed',
] as const;

/** Content-Encoding values accepted: the stored body is then the gzip stream, which the worker recognises. */
export function acceptsContentEncoding(header: string | undefined): boolean {
  if (!header) return true;
  return header
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter(Boolean)
    .every((c) => c === 'identity' || c === 'gzip' || c === 'x-gzip');
}
