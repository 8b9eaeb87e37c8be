/**
 * Typed errors shared by every stage.
 *
 * The pipeline sorts every failure into one of two kinds, because the two need opposite handling:
 * - ReportInputError: the message itself is bad (broken gzip, schema violation, ...). Retrying cannot help,
 *   so the message is quarantined with the stable `reason` code and a `detail` a person can act on.
 * - ServiceError: something we depend on is unavailable (Postgres, Redis). The message is fine, so the job is
 *   retried with backoff and never quarantined.
 * Reason codes are kebab-case and are the same word in the database, the logs, the CLI and the README.
 */

/**
 * The base of every error this project raises on purpose: a stable kebab-case `code` (the same word in the
 * logs, the database, the CLI and the README), a message that says what to do, and the cause.
 */
export class TlsrptError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The command line was used wrongly (a bad option value, a missing argument): exit status 2. */
export class UsageError extends TlsrptError {
  override readonly name = 'UsageError';
}

/** Every reason a message can be quarantined for. README "Quarantine reasons" explains each one. */
export const QUARANTINE_REASONS = {
  'mime-malformed': 'The message could not be parsed as MIME at all.',
  'not-a-tls-report': 'The mail carries no TLS report (a bounce, spam, a DMARC report, a reply sent to the report address).',
  'gzip-corrupt': 'The gzip stream is truncated or corrupt, so the report JSON could not be recovered.',
  'zip-corrupt': 'The zip archive is corrupt or holds no .json member.',
  'unsupported-compression': 'The attachment is compressed with a method this tool does not read.',
  'decompression-limit': 'The report inflates past the configured ceiling (REPORT_MAX_BYTES): likely a decompression bomb.',
  'json-invalid': 'The report part is not valid JSON.',
  'schema-violation': 'The JSON is not an RFC 8460 report, even after the known sender fix-ups; the detail names the JSON path.',
  'internal-error':
    'Processing failed repeatedly for a reason that is not the input nor a service outage (a bug): reprocess after upgrading.',
} as const;

export type QuarantineReason = keyof typeof QUARANTINE_REASONS;

/** The message is bad; quarantine it. Never retried. */
export class ReportInputError extends Error {
  override readonly name = 'ReportInputError';
  constructor(
    readonly reason: QuarantineReason,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${reason}: ${detail}`, options);
  }
}

/** A dependency is down; retry later. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly service: 'postgres' | 'redis',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Configuration is wrong; the process must not start. Names the variable and says what is expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

/**
 * True when `err` means "a service is unreachable or overloaded" rather than "this input is bad".
 * Postgres connection errors carry SQLSTATE class 08; socket errors carry errno codes.
 */
export function isServiceOutage(err: unknown): boolean {
  if (err instanceof ServiceError) return true;
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (CONNECTION_ERROR_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  if (Array.isArray(e.errors) && e.errors.some(isServiceOutage)) return true; // AggregateError from net
  const msg = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(msg);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
