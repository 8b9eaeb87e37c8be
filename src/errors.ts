/**
 * Typed errors shared by every stage, and the one rule that tells a service outage from a bad input.
 *
 * Every error this project raises on purpose is a TlsrptError: a stable kebab-case `code` (the same word in the
 * logs, the database, the CLI and the README), a message that says what to do, and the cause. Each family of
 * codes has one registry (code -> what it means), and test/errors/readmeCodes.test.ts holds the README to
 * exactly the codes of each registry:
 * - QUARANTINE_REASONS (below): why a message was quarantined;
 * - USAGE_ERRORS (below): how a command line was wrong;
 * - REFUSALS (src/receive/httpReplies.ts): what the HTTP server refuses and why;
 * - DELIVERY_ERRORS (src/alert/deliver/deliveryError.ts): why an alert did not reach a destination;
 * - POLICY_PROBLEMS (src/policy/syntax/problem.ts): what is wrong with an MTA-STS policy, a record or a command's input;
 * - CHECKS (src/policy/check/checkFinding.ts): the named checks of `tlsrpt check`.
 *
 * The pipeline sorts every failure into one of two kinds, because the two need opposite handling:
 * - ReportInputError: the message itself is bad (broken gzip, schema violation, ...). Retrying cannot help,
 *   so the message is quarantined with the stable `reason` code and a `detail` a person can act on.
 * - a service outage or a transient conflict (isServiceOutage): the message is fine, so the job is retried
 *   with backoff and never quarantined.
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

/**
 * Every way a command line can be wrong. README "Exit status and usage errors" explains each one. A UsageError
 * makes the command exit with status 2 (see EXIT_STATUS).
 */
export const USAGE_ERRORS = {
  'command-unknown': 'There is no such command: run "tlsrpt --help" for the list.',
  'option-unknown': 'The command has no such option: run the command with --help for its options.',
  'option-invalid': 'An option has a value the command cannot use (not a number, a date, a domain name, or one of the listed values).',
  'option-missing': 'A required option, or the value of an option, is missing.',
  'options-conflict': 'Two options were given that cannot be used together.',
  'argument-missing': 'A required argument is missing.',
  'argument-invalid': 'An argument has a value the command cannot use (e.g. an ID that is not a whole number).',
  'argument-unexpected': 'More arguments were given than the command takes.',
} as const;

export type UsageErrorCode = keyof typeof USAGE_ERRORS;

/** The command line was used wrongly (a bad option value, a missing argument): exit status 2. */
export class UsageError extends TlsrptError {
  override readonly name = 'UsageError';
  declare readonly code: UsageErrorCode;
  constructor(code: UsageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * commander's own error codes, as the usage codes above, so that its errors and ours read the same. commander
 * gives one code to a bad option value and a bad argument value alike; its message says which.
 */
export const COMMANDER_USAGE_CODES: Readonly<Record<string, UsageErrorCode>> = {
  'commander.unknownCommand': 'command-unknown',
  'commander.unknownOption': 'option-unknown',
  'commander.invalidArgument': 'option-invalid',
  'commander.optionMissingArgument': 'option-missing',
  'commander.missingMandatoryOptionValue': 'option-missing',
  'commander.conflictingOption': 'options-conflict',
  'commander.missingArgument': 'argument-missing',
  'commander.excessArguments': 'argument-unexpected',
};

/**
 * The exit status of every command (README "Exit status and usage errors"): 0 when it did what was asked and
 * found nothing wrong; 1 when it found something wrong (a failing check, a policy error, a message left
 * pending) or could not do its work (a service down, a failed delivery); 2 when it was not run at all because
 * the command line or the configuration is wrong.
 */
export const EXIT_STATUS = { ok: 0, failure: 1, usage: 2 } as const;

/** The exit status for an error that ends a command. */
export function exitStatusFor(err: unknown): number {
  return err instanceof UsageError || err instanceof ConfigError ? EXIT_STATUS.usage : EXIT_STATUS.failure;
}

/** Every reason a message can be quarantined for. README "Quarantine reasons" explains each one. */
export const QUARANTINE_REASONS = {
  'mime-malformed': 'The message could not be parsed as MIME at all.',
  'not-a-tls-report': 'The mail carries no TLS report (a bounce, spam, a DMARC report, a reply sent to the report address).',
  'gzip-corrupt': 'The gzip stream is truncated or corrupt, so the report JSON could not be recovered.',
  'zip-corrupt': 'The zip archive is corrupt or holds no .json member.',
  'unsupported-compression': 'The attachment is compressed with a method this tool does not read.',
  'decompression-limit': 'The report inflates past the configured ceiling (REPORT_MAX_BYTES): likely a decompression bomb.',
  'memory-limit':
    'The report is so large that decoding it would need more memory than WORKER_MEMORY_BUDGET allows (about 8 bytes per byte of JSON).',
  'json-invalid': 'The report part is not valid JSON.',
  'json-too-deep': 'The report nests arrays or objects deeper than any TLS report does (64 levels): refused before parsing.',
  'schema-violation': 'The JSON is not an RFC 8460 report, even after the known sender fix-ups; the detail names the JSON path.',
  'not-authenticated':
    'REPORT_AUTHENTICATION=require and the mail has no DKIM signature of its From domain that passed (README "Authentication (DKIM)"); reprocess once the sender publishes its key or its DNS answers.',
  'internal-error':
    'Processing failed repeatedly for a reason that is not the input nor a service outage (a bug): reprocess after upgrading.',
} as const;

export type QuarantineReason = keyof typeof QUARANTINE_REASONS;

/** The message is bad; quarantine it. Never retried. The code is the quarantine reason. */
export class ReportInputError extends TlsrptError {
  override readonly name = 'ReportInputError';
  declare readonly code: QuarantineReason;
  constructor(
    readonly reason: QuarantineReason,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(reason, `${reason}: ${detail}`, options);
  }
}

/** Configuration is wrong; the process must not start (exit status 2). Names the variable and says what is expected. */
export class ConfigError extends TlsrptError {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('config-invalid', `${variable}: ${message}`, options);
  }
}

/**
 * Errors that a client library raises with nothing but a message (pg's "Connection terminated unexpectedly",
 * pg-pool's connect timeout), marked as outages by the boundary that sees where they come from: the pool's
 * error event and its connect (src/db/pool.ts), a Redis connection's error event (src/queue/reportQueue.ts).
 * A mark, not a wrapper: pg hands the same error object to every query the lost connection had queued.
 */
const markedOutages = new WeakSet<object>();

export function markServiceOutage(err: unknown): void {
  if (typeof err === 'object' && err !== null) markedOutages.add(err);
}

/** Node's socket and DNS errors: the service cannot be reached from here. */
const ERRNO_OUTAGES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * PostgreSQL SQLSTATE classes (Appendix A of its manual) that say "try again later", not "this input is bad":
 * 08 connection exception, 53 insufficient resources (too many connections, disk full, out of memory),
 * 57 operator intervention (shutdown, cannot connect now, and 57014: statement timeout or cancel),
 * 40 transaction rollback (40001 serialization failure, 40P01 deadlock, 40003 completion unknown).
 */
const SQLSTATE_OUTAGE_CLASSES = new Set(['08', '53', '57', '40']);

/** Single SQLSTATEs outside those classes that are transient too. */
const SQLSTATE_OUTAGES = new Set([
  '25006', // read_only_sql_transaction: connected to a standby, or the primary was demoted during a failover
  '55P03', // lock_not_available: lock_timeout ran out while another transaction held the lock
]);

/** 40002 is a deferred constraint failing at COMMIT: the same data fails the same way again. */
const SQLSTATE_NOT_TRANSIENT = new Set(['40002']);

function isSqlState(code: string): boolean {
  return /^[0-9A-Z]{5}$/.test(code);
}

/**
 * True when `err` means "a service is unreachable or overloaded, or the transaction lost a race" rather than
 * "this input is bad", so the work is retried later instead of quarantined. Decided by the error's kind only:
 * PostgreSQL's SQLSTATE, Node's errno code, ioredis's error class, or the mark a boundary put on a client
 * library's message-only error (markServiceOutage). Message text is never read: it changes with versions and
 * locales.
 */
export function isServiceOutage(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if (markedOutages.has(err)) return true;
  const e = err as { code?: unknown; name?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === 'string') {
    if (ERRNO_OUTAGES.has(e.code)) return true;
    if (isSqlState(e.code)) {
      if (SQLSTATE_NOT_TRANSIENT.has(e.code)) return false;
      return SQLSTATE_OUTAGES.has(e.code) || SQLSTATE_OUTAGE_CLASSES.has(e.code.slice(0, 2));
    }
  }
  // ioredis gives up on a command after maxRetriesPerRequest reconnection attempts.
  if (e.name === 'MaxRetriesPerRequestError') return true;
  // net's AggregateError when every address of a host refused (IPv4 and IPv6).
  if (Array.isArray(e.errors) && e.errors.some(isServiceOutage)) return true;
  return false;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
