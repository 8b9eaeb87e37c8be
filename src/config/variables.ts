/**
 * Every configuration variable, declared once: its section, parser, default, whether it is secret, a
 * one-line doc, which processes read it, and whether SIGHUP applies a change without a restart. The loader
 * (loadConfig.ts), `tlsrpt config` (describeConfig), each command's --help (environmentHelp.ts) and the
 * README "Configuration" tables (test/config/readmeConfiguration.test.ts) all come from this table.
 */
import { ConfigError } from '../errors.js';
import { parseMailboxUrl } from '../imap/mailboxUrl.js';
import { parseNonReportAction, parseProcessedAction } from '../imap/serverAction.js';
import {
  addressRanges,
  decimal,
  senderTokens,
  dnsServerList,
  durationDays,
  domainList,
  emailAddress,
  emailAddressList,
  httpUrlList,
  metricsAllow,
  oneOf,
  percent,
  recipientList,
  ruaList,
  size,
  splitList,
  text,
  trustProxy,
  url,
  wholeNumber,
} from './valueParsers.js';

/** README "Configuration" has one table per section, under these headings. */
export const SECTIONS = {
  general: 'General',
  smtp: 'SMTP receiver',
  worker: 'Worker',
  http: 'HTTPS endpoint and metrics',
  alerts: 'Alert settings',
  'mta-sts': 'MTA-STS settings',
  imap: 'IMAP mailboxes',
} as const;
export type Section = keyof typeof SECTIONS;

/** The parts of the program that read a variable; `tlsrpt serve` is receiver + worker + http. */
export type Reader = 'receiver' | 'worker' | 'http' | 'migrate' | 'policy' | 'imap';

/**
 * What SIGHUP does with a changed value: `policies` (the hosted MTA-STS policies are read again), `alerts`
 * (destinations, thresholds and rules from then on), `imap` (the mailbox readers start again with the new
 * settings, after the pass in progress), or `restart` (logged as needing a restart; the running
 * value stays). Files are re-read on every SIGHUP whatever their variable says: the certificate files (TLS_*,
 * SMTP_TLS_*, HTTP_TLS_*, MTA_STS_CERT_DIR; a new path needs a restart), the policy files, ALERT_RULES_FILE.
 */
export type ReloadGroup = 'policies' | 'alerts' | 'imap' | 'restart';

/** What a variable is given: a string (environment, YAML scalar) or a YAML list; undefined when unset. */
export type VariableInput = string | readonly string[] | undefined;

export interface Variable<T = unknown> {
  readonly section: Section;
  /** The value used when unset, as it would be written; null: unset has a meaning of its own (`unset`). */
  readonly default: string | null;
  /** What unset means, for --help and the README (e.g. "any recipient"), when `default` is null. */
  readonly unset: string;
  /** A comma-separated list in the environment, a YAML list in the configuration file. */
  readonly list: boolean;
  /** Its value may carry a credential: shown masked, and a change is logged without the values. */
  readonly secret: boolean;
  /** Only from the environment (TLSRPT_CONFIG names the file, so it cannot be in it). */
  readonly envOnly: boolean;
  readonly doc: string;
  readonly readBy: readonly Reader[];
  readonly reload: ReloadGroup;
  /** The typed value of `input` (the default when unset); throws a ConfigError naming `name`. */
  read(input: VariableInput, name: string): T;
}

interface Options {
  section: Section;
  doc: string;
  readBy: readonly Reader[];
  secret?: boolean;
  envOnly?: boolean;
  reload?: ReloadGroup;
}

function common(o: Options) {
  return {
    section: o.section,
    doc: o.doc,
    readBy: o.readBy,
    secret: o.secret ?? false,
    envOnly: o.envOnly ?? false,
    reload: o.reload ?? 'restart',
  };
}

function oneText(input: VariableInput, name: string): string | undefined {
  if (typeof input === 'string') return input.trim() || undefined;
  if (input === undefined) return undefined;
  throw new ConfigError(name, 'takes one value, not a list');
}

/** A variable with one value and a default. */
function scalar<T>(o: Options & { default: string; parse: (text: string, name: string) => T }): Variable<T> {
  return {
    ...common(o),
    default: o.default,
    unset: o.default,
    list: false,
    read: (input, name) => o.parse(oneText(input, name) ?? o.default, name),
  };
}

/** A variable with one value whose absence means something (`unset`): null when unset. */
function optional<T>(o: Options & { unset: string; parse: (text: string, name: string) => T }): Variable<T | null> {
  return {
    ...common(o),
    default: null,
    unset: o.unset,
    list: false,
    read: (input, name) => {
      const t = oneText(input, name);
      return t === undefined ? null : o.parse(t, name);
    },
  };
}

/** A list: comma-separated in the environment, a YAML list in the file. */
function list<T>(o: Options & { default?: string; unset?: string; parse: (items: string[], name: string) => T }): Variable<T> {
  return {
    ...common(o),
    default: o.default ?? null,
    unset: o.default ?? o.unset ?? 'none',
    list: true,
    read: (input, name) => {
      let items = typeof input === 'string' ? splitList(input) : (input ?? []).map((i) => i.trim()).filter(Boolean);
      if (items.length === 0 && o.default !== undefined) items = splitList(o.default);
      return o.parse(items, name);
    },
  };
}

const SERVICES: readonly Reader[] = ['receiver', 'worker', 'http', 'imap'];

export const VARIABLES = {
  TLSRPT_CONFIG: optional({
    section: 'general',
    unset: 'none',
    envOnly: true,
    doc: 'YAML file setting these variables by name (also --config FILE); the environment wins over it',
    readBy: [...SERVICES, 'migrate', 'policy'],
    parse: text,
  }),
  DATABASE_URL: scalar({
    section: 'general',
    default: 'postgresql://postgres@127.0.0.1:5432/tlsrpt',
    secret: true,
    doc: 'PostgreSQL URL; the database is created on first start if the role may',
    readBy: [...SERVICES, 'migrate', 'policy'],
    parse: url(['postgres:', 'postgresql:'], 'postgresql://postgres@127.0.0.1:5432/tlsrpt', true),
  }),
  REDIS_URL: scalar({
    section: 'general',
    default: 'redis://127.0.0.1:6379',
    secret: true,
    doc: 'Redis URL for the job queue (use persistence: appendonly yes)',
    readBy: SERVICES,
    parse: url(['redis:', 'rediss:'], 'redis://127.0.0.1:6379', true),
  }),
  QUEUE_PREFIX: scalar({
    section: 'general',
    default: 'tlsrpt',
    doc: "prefix of the queue's Redis keys, so several deployments can share one Redis",
    readBy: SERVICES,
    parse: (value, name) => {
      if (!/^[A-Za-z0-9_.-]+$/.test(value)) throw new ConfigError(name, `"${value}" must use only letters, digits, "_", "." and "-"`);
      return value;
    },
  }),
  LOG_LEVEL: scalar({
    section: 'general',
    default: 'info',
    doc: 'fatal, error, warn, info, debug, trace or silent; logs are JSON lines on stdout',
    readBy: SERVICES,
    parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  }),
  SHUTDOWN_TIMEOUT_SECONDS: scalar({
    section: 'general',
    default: '30',
    doc: 'how long a stopping process waits for the work in progress',
    readBy: SERVICES,
    parse: wholeNumber(1, 3600),
  }),
  TLS_CERT: optional({
    section: 'general',
    unset: 'none',
    doc: 'PEM certificate chain for SMTP STARTTLS and HTTPS unless SMTP_TLS_CERT / HTTP_TLS_CERT name their own; set with TLS_KEY',
    readBy: ['receiver', 'http'],
    parse: text,
  }),
  TLS_KEY: optional({
    section: 'general',
    unset: 'none',
    doc: 'PEM private key of TLS_CERT',
    readBy: ['receiver', 'http'],
    parse: text,
  }),
  TLS_RELOAD_CHECK_SECONDS: scalar({
    section: 'general',
    default: '60',
    doc: 'how often the certificate files (and MTA_STS_CERT_DIR) are read again to pick up a renewal; 0 = only on SIGHUP',
    readBy: ['receiver', 'http'],
    parse: wholeNumber(0, 86_400),
  }),

  SMTP_HOST: scalar({
    section: 'smtp',
    default: '0.0.0.0',
    doc: 'address the SMTP receiver listens on',
    readBy: ['receiver'],
    parse: text,
  }),
  SMTP_PORT: scalar({
    section: 'smtp',
    default: '2525',
    doc: 'port the SMTP receiver listens on (0 picks a free port)',
    readBy: ['receiver'],
    parse: wholeNumber(0, 65535),
  }),
  SMTP_SERVER_NAME: optional({
    section: 'smtp',
    unset: 'the host name',
    doc: 'name in the SMTP greeting and replies',
    readBy: ['receiver'],
    parse: text,
  }),
  SMTP_TLS_CERT: optional({
    section: 'smtp',
    unset: 'TLS_CERT',
    doc: 'PEM certificate chain offered after STARTTLS; set with SMTP_TLS_KEY',
    readBy: ['receiver'],
    parse: text,
  }),
  SMTP_TLS_KEY: optional({
    section: 'smtp',
    unset: 'TLS_KEY',
    doc: 'PEM private key of SMTP_TLS_CERT',
    readBy: ['receiver'],
    parse: text,
  }),
  ACCEPTED_RECIPIENTS: list({
    section: 'smtp',
    unset: 'any recipient',
    doc: 'addresses and whole domains to accept mail for (550 for others)',
    readBy: ['receiver', 'policy'],
    parse: recipientList,
  }),
  SMTP_ACCEPT_ANY_RECIPIENT: scalar({
    section: 'smtp',
    default: 'off',
    doc: 'on: start with ACCEPTED_RECIPIENTS empty although SMTP_HOST is not loopback (a relay in front picks the recipients); off: refuse to start so',
    readBy: ['receiver'],
    parse: oneOf(['off', 'on'] as const),
  }),
  MAX_MESSAGE_SIZE: scalar({
    section: 'smtp',
    default: '10MiB',
    doc: 'largest mail accepted (552 above it; left in the mailbox by tlsrpt imap); units B, KiB, MiB, GiB, kB, MB, GB',
    readBy: ['receiver', 'imap'],
    parse: size,
  }),
  SMTP_MAX_CONNECTIONS: scalar({
    section: 'smtp',
    default: '500',
    doc: 'concurrent SMTP connections',
    readBy: ['receiver'],
    parse: wholeNumber(1, 100_000),
  }),
  SMTP_MAX_CONNECTIONS_PER_CLIENT: scalar({
    section: 'smtp',
    default: '20',
    doc: 'concurrent SMTP connections from one client address (421 above it), so one address cannot take every slot; 0 = no limit',
    readBy: ['receiver'],
    parse: wholeNumber(0, 100_000),
  }),
  SMTP_MAX_SESSION_SECONDS: scalar({
    section: 'smtp',
    default: '600',
    doc: 'longest SMTP session: then 421 and close, after the message in progress; 0 = no limit',
    readBy: ['receiver'],
    parse: wholeNumber(0, 86_400),
  }),
  SMTP_MAX_COMMANDS_WITHOUT_MAIL: scalar({
    section: 'smtp',
    default: '50',
    doc: 'commands (NOOP, RSET, EHLO, ...) a session may send without starting a message: then 421 and close; 0 = no limit',
    readBy: ['receiver'],
    parse: wholeNumber(0, 100_000),
  }),
  SMTP_COMMIT_TIMEOUT_SECONDS: scalar({
    section: 'smtp',
    default: '10',
    doc: 'time limit of storing a received mail in PostgreSQL: past it the sender gets 451 and retries later',
    readBy: ['receiver'],
    parse: wholeNumber(1, 3600),
  }),

  WORKER_CONCURRENCY: scalar({
    section: 'worker',
    default: '64',
    doc: 'messages one worker holds at once (loaded and stored in batches)',
    readBy: ['worker'],
    parse: wholeNumber(1, 1000),
  }),
  WORKER_MAX_ATTEMPTS: scalar({
    section: 'worker',
    default: '5',
    doc: 'attempts for a message failing for an unexpected reason before internal-error',
    readBy: ['worker'],
    parse: wholeNumber(1, 100),
  }),
  REPORT_MAX_BYTES: scalar({
    section: 'worker',
    default: '64MiB',
    doc: "ceiling on a report's decompressed size (decompression bombs)",
    readBy: ['worker'],
    parse: size,
  }),
  WORKER_MEMORY_BUDGET: scalar({
    section: 'worker',
    default: '512MiB',
    doc: 'memory one worker process may spend decoding reports at once (about 8 bytes per byte of report JSON); larger reports wait their turn, and one that can never fit is quarantined as memory-limit',
    readBy: ['worker'],
    parse: size,
  }),
  SWEEP_INTERVAL_SECONDS: scalar({
    section: 'worker',
    default: '60',
    doc: 'how often stored but unqueued messages are re-enqueued',
    readBy: ['worker'],
    parse: wholeNumber(1, 86_400),
  }),
  REPORT_AUTHENTICATION: scalar({
    section: 'worker',
    default: 'record',
    doc: 'record: store every report with its DKIM result; require: quarantine mail without an aligned passing signature',
    readBy: ['worker'],
    parse: oneOf(['record', 'require'] as const),
  }),
  DKIM_DNS_TIMEOUT_SECONDS: scalar({
    section: 'worker',
    default: '5',
    doc: 'time limit of one DKIM key lookup (two tries); a failed lookup retries the message later',
    readBy: ['worker'],
    parse: decimal(0.1, 60),
  }),
  DKIM_TEMPERROR_RETRY_HOURS: scalar({
    section: 'worker',
    default: '24',
    doc: 'how long after receipt a mail whose DKIM keys cannot be looked up is retried before it is settled as temperror',
    readBy: ['worker'],
    parse: decimal(0, 24 * 365),
  }),
  HTTP_TRUSTED_CLIENTS: list({
    section: 'worker',
    unset: 'none',
    doc: 'client addresses and CIDR ranges whose HTTPS reports count as authenticated',
    readBy: ['worker'],
    parse: addressRanges,
  }),
  RETENTION_RAW_DAYS: scalar({
    section: 'worker',
    default: '30',
    doc: 'days the raw bytes of a stored, duplicate or conflict message are kept (0: forever); README "Retention"',
    readBy: ['worker'],
    parse: wholeNumber(0, 36_500),
  }),
  RETENTION_QUARANTINE_DAYS: scalar({
    section: 'worker',
    default: '90',
    doc: 'days a quarantined message is kept for tlsrpt reprocess, then removed with its bytes (0: forever)',
    readBy: ['worker'],
    parse: wholeNumber(0, 36_500),
  }),
  RETENTION_REPORT_DAYS: scalar({
    section: 'worker',
    default: '400',
    doc: 'days reports, policies, failure details and message rows are kept (0: forever); daily totals are kept',
    readBy: ['worker'],
    parse: wholeNumber(0, 36_500),
  }),

  HTTP_HOST: scalar({ section: 'http', default: '0.0.0.0', doc: 'address the HTTP server listens on', readBy: ['http'], parse: text }),
  HTTP_PORT: scalar({
    section: 'http',
    default: '8080',
    doc: 'port of the HTTP server (0 picks a free one)',
    readBy: ['http'],
    parse: wholeNumber(0, 65535),
  }),
  HTTP_TLS: scalar({
    section: 'http',
    default: 'auto',
    doc: 'auto: HTTPS when an HTTPS certificate is set (HTTP_TLS_CERT, TLS_CERT or MTA_STS_CERT_DIR); on: HTTPS or refuse to start; off: plain HTTP behind a proxy',
    readBy: ['http'],
    parse: oneOf(['auto', 'on', 'off'] as const, ' (auto: HTTPS when an HTTPS certificate is set)'),
  }),
  HTTP_TLS_CERT: optional({
    section: 'http',
    unset: 'TLS_CERT',
    doc: 'PEM certificate chain served on HTTPS (and to names MTA_STS_CERT_DIR has no certificate for); set with HTTP_TLS_KEY',
    readBy: ['http'],
    parse: text,
  }),
  HTTP_TLS_KEY: optional({
    section: 'http',
    unset: 'TLS_KEY',
    doc: 'PEM private key of HTTP_TLS_CERT',
    readBy: ['http'],
    parse: text,
  }),
  HTTP_REPORT_PATH: scalar({
    section: 'http',
    default: '/tlsrpt',
    doc: 'path of your rua=https://... URI',
    readBy: ['http'],
    parse: (value, name) => {
      if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(value)) {
        throw new ConfigError(name, `"${value}" must be a URL path starting with "/", without query or spaces (e.g. /tlsrpt)`);
      }
      return value;
    },
  }),
  HTTP_MAX_BODY_SIZE: scalar({
    section: 'http',
    default: '2MiB',
    doc: 'largest report POST body accepted (413 above it)',
    readBy: ['http'],
    parse: size,
  }),
  HTTP_RATE_LIMIT_PER_MINUTE: scalar({
    section: 'http',
    default: '60',
    doc: 'report POSTs per client address per minute (429 above it); 0 turns the limit off',
    readBy: ['http'],
    parse: wholeNumber(0, 1_000_000),
  }),
  HTTP_REPORT_TOKENS: list({
    section: 'http',
    unset: 'none',
    secret: true,
    doc: 'sender=token pairs: a report POST with Authorization: Bearer <token> counts as authenticated, from that sender',
    readBy: ['http'],
    parse: senderTokens,
  }),
  HTTP_BODY_TIMEOUT_SECONDS: scalar({
    section: 'http',
    default: '30',
    doc: 'time a client has to send a whole request (408 after it)',
    readBy: ['http'],
    parse: wholeNumber(1, 3600),
  }),
  HTTP_MAX_CONNECTIONS: scalar({
    section: 'http',
    default: '256',
    doc: 'open HTTP connections at most',
    readBy: ['http'],
    parse: wholeNumber(1, 100_000),
  }),
  HTTP_TRUST_PROXY: list({
    section: 'http',
    default: 'off',
    doc: 'proxies whose X-Forwarded-For is believed: off, on, a hop count, or addresses and CIDR ranges',
    readBy: ['http'],
    parse: trustProxy,
  }),
  METRICS_ALLOW: list({
    section: 'http',
    default: 'private',
    doc: 'who may GET /metrics: private, any, or addresses and CIDR ranges',
    readBy: ['http', 'receiver', 'worker', 'imap'],
    parse: metricsAllow,
  }),
  METRICS_PORT: optional({
    section: 'http',
    unset: 'none',
    doc: 'a plain-HTTP port serving /metrics, /healthz and /readyz: beside HTTP_PORT in http and serve, alone in receiver, worker and imap (0 picks a free one)',
    readBy: ['http', 'receiver', 'worker', 'imap'],
    parse: wholeNumber(0, 65535),
  }),
  METRICS_HOST: optional({
    section: 'http',
    unset: 'HTTP_HOST',
    doc: 'address the METRICS_PORT listener binds to',
    readBy: ['http', 'receiver', 'worker', 'imap'],
    parse: text,
  }),
  METRICS_DOMAINS: list({
    section: 'http',
    unset: 'none',
    doc: 'policy domains that always have metric series, at zero before their first report',
    readBy: ['http', 'receiver', 'worker', 'imap'],
    parse: domainList,
  }),
  METRICS_MAX_DOMAINS: scalar({
    section: 'http',
    default: '100',
    doc: 'other policy domains with series of their own; the rest are summed as "other"',
    readBy: ['http', 'receiver', 'worker', 'imap'],
    parse: wholeNumber(0, 10_000),
  }),

  UI_ALLOW: list({
    section: 'http',
    default: 'private',
    doc: 'who may open the dashboard (/ui/) and its API (/api/v1/): private, any, or addresses and CIDR ranges',
    readBy: ['http'],
    parse: metricsAllow,
  }),
  UI_TRUSTED_PROXY_HEADER: optional({
    section: 'http',
    unset: 'none (log in with a password)',
    doc: 'request header naming the dashboard user a reverse proxy has authenticated (e.g. X-Remote-User)',
    readBy: ['http'],
    parse: (value, name) => {
      if (!/^[A-Za-z0-9-]+$/.test(value)) throw new ConfigError(name, `"${value}" is not a header name (letters, digits, "-")`);
      return value.toLowerCase();
    },
  }),
  UI_SESSION_HOURS: scalar({
    section: 'http',
    default: '12',
    doc: 'how long a dashboard login lasts',
    readBy: ['http'],
    parse: wholeNumber(1, 24 * 90),
  }),

  ALERT_WEBHOOK_URLS: list({
    section: 'alerts',
    unset: 'none',
    secret: true,
    reload: 'alerts',
    doc: 'generic webhooks (JSON POST), https:// or http:// URLs',
    readBy: ['worker'],
    parse: httpUrlList,
  }),
  ALERT_WEBHOOK_SECRET: optional({
    section: 'alerts',
    unset: 'unsigned',
    secret: true,
    reload: 'alerts',
    doc: 'signs each generic webhook POST: X-Tlsrpt-Signature is sha256= the HMAC-SHA256 of "<X-Tlsrpt-Timestamp>.<body>" with this secret (at least 16 characters)',
    readBy: ['worker'],
    parse: (value, name) => {
      if (value.length < 16)
        throw new ConfigError(name, 'is too short to sign with: use a random secret of at least 16 characters (openssl rand -hex 32)');
      return value;
    },
  }),
  ALERT_SLACK_WEBHOOK_URLS: list({
    section: 'alerts',
    unset: 'none',
    secret: true,
    reload: 'alerts',
    doc: 'Slack-compatible incoming webhook URLs (the URL is the credential)',
    readBy: ['worker'],
    parse: httpUrlList,
  }),
  ALERT_EMAIL_SMTP_URL: optional({
    section: 'alerts',
    unset: 'none',
    secret: true,
    reload: 'alerts',
    doc: 'SMTP server for e-mail alerts: smtp://user:pass@host:587 or smtps://...:465',
    readBy: ['worker'],
    parse: url(['smtp:', 'smtps:'], 'smtp://user:pass@mail.example.com:587 or smtps://...:465', true),
  }),
  ALERT_EMAIL_FROM: optional({
    section: 'alerts',
    unset: 'none',
    reload: 'alerts',
    doc: 'sender address of e-mail alerts',
    readBy: ['worker'],
    parse: emailAddress,
  }),
  ALERT_EMAIL_TO: list({
    section: 'alerts',
    unset: 'none',
    reload: 'alerts',
    doc: 'recipient addresses of e-mail alerts',
    readBy: ['worker'],
    parse: emailAddressList,
  }),
  ALERT_MIN_FAILED_SESSIONS: scalar({
    section: 'alerts',
    default: '1',
    reload: 'alerts',
    doc: 'warning threshold: failed sessions in a window',
    readBy: ['worker'],
    parse: wholeNumber(1, Number.MAX_SAFE_INTEGER),
  }),
  ALERT_MIN_FAILURE_PERCENT: scalar({
    section: 'alerts',
    default: '0',
    reload: 'alerts',
    doc: 'warning threshold: failure rate in a window, in percent',
    readBy: ['worker'],
    parse: percent,
  }),
  ALERT_CRITICAL_MIN_FAILED_SESSIONS: scalar({
    section: 'alerts',
    default: '1',
    reload: 'alerts',
    doc: 'critical threshold: failed sessions of the louder class',
    readBy: ['worker'],
    parse: wholeNumber(1, Number.MAX_SAFE_INTEGER),
  }),
  ALERT_CRITICAL_MIN_FAILURE_PERCENT: scalar({
    section: 'alerts',
    default: '0',
    reload: 'alerts',
    doc: "critical threshold: their share of the window's sessions, in percent",
    readBy: ['worker'],
    parse: percent,
  }),
  ALERT_RULES_FILE: optional({
    section: 'alerts',
    unset: 'none',
    reload: 'alerts',
    doc: 'JSON file of per-domain alert rules',
    readBy: ['worker'],
    parse: text,
  }),
  ALERT_GROUP_WAIT_SECONDS: scalar({
    section: 'alerts',
    default: '600',
    reload: 'alerts',
    doc: "how long a window collects a domain's reports before it is evaluated",
    readBy: ['worker'],
    parse: decimal(0, 86_400),
  }),
  ALERT_COOLDOWN_HOURS: scalar({
    section: 'alerts',
    default: '24',
    reload: 'alerts',
    doc: 'cooldown per (domain, result type) after an alert; fractions allowed',
    readBy: ['worker'],
    parse: decimal(0, 24 * 365),
  }),
  ALERT_GROWTH_FACTOR: scalar({
    section: 'alerts',
    default: '2',
    reload: 'alerts',
    doc: 'alert again within the cooldown when the count reaches this factor times the alerted one',
    readBy: ['worker'],
    parse: (value, name) => {
      const n = decimal(1, 1000)(value, name);
      if (n <= 1) throw new ConfigError(name, `${n} must be above 1 (2 = alert again when the failures double)`);
      return n;
    },
  }),
  ALERT_QUIET_REPORTER_DAYS: scalar({
    section: 'alerts',
    default: '0',
    reload: 'alerts',
    doc: 'days of silence from a daily reporter before a quiet-reporter alert; 0 is off',
    readBy: ['worker'],
    parse: wholeNumber(0, 365),
  }),
  ALERT_MAX_REPORT_AGE: scalar({
    section: 'alerts',
    default: '3d',
    reload: 'alerts',
    doc: 'a report whose date range ended longer than this before it was stored joins no alert window (a backfill); e.g. 3d, 72h',
    readBy: ['worker'],
    parse: durationDays(3_600_000, 3650 * 86_400_000),
  }),
  ALERT_AUTHENTICATED_ONLY: scalar({
    section: 'alerts',
    default: 'off',
    reload: 'alerts',
    doc: 'on: alert windows count only authenticated reports (DKIM pass, trusted HTTPS client)',
    readBy: ['worker'],
    parse: oneOf(['off', 'on'] as const),
  }),
  ALERT_DELIVERY_ATTEMPTS: scalar({
    section: 'alerts',
    default: '10',
    reload: 'alerts',
    doc: 'attempts per destination before a delivery is given up',
    readBy: ['worker'],
    parse: wholeNumber(1, 100),
  }),
  ALERT_RETRY_DELAY_SECONDS: scalar({
    section: 'alerts',
    default: '30',
    reload: 'alerts',
    doc: 'first delivery retry delay; it doubles on each attempt',
    readBy: ['worker'],
    parse: decimal(0.01, 86_400),
  }),
  ALERT_CHECK_INTERVAL_SECONDS: scalar({
    section: 'alerts',
    default: '300',
    doc: 'how often each worker picks up stalled alert work and looks for quiet reporters',
    readBy: ['worker'],
    parse: decimal(1, 86_400),
  }),
  ALERT_SEND_TIMEOUT_SECONDS: scalar({
    section: 'alerts',
    default: '15',
    reload: 'alerts',
    doc: 'time limit of one HTTP request or SMTP stage of a delivery',
    readBy: ['worker'],
    parse: decimal(0.1, 600),
  }),

  MTA_STS_POLICY_DIR: optional({
    section: 'mta-sts',
    unset: 'none',
    reload: 'policies',
    doc: 'directory of <domain>.txt MTA-STS policies, served for mta-sts.<domain>',
    readBy: ['http'],
    parse: text,
  }),
  MTA_STS_CERT_DIR: optional({
    section: 'mta-sts',
    unset: 'none',
    doc: 'certbot-style folder (one sub-folder per certificate with fullchain.pem and privkey.pem): HTTPS picks the certificate by the name the client asks for (SNI)',
    readBy: ['http'],
    parse: text,
  }),
  MTA_STS_POLICY_FILE: optional({
    section: 'mta-sts',
    unset: 'none',
    reload: 'policies',
    doc: 'one MTA-STS policy served for every domain in MTA_STS_DOMAINS',
    readBy: ['http'],
    parse: text,
  }),
  MTA_STS_DOMAINS: list({
    section: 'mta-sts',
    unset: 'none',
    reload: 'policies',
    doc: 'the domains that share MTA_STS_POLICY_FILE',
    readBy: ['http'],
    parse: domainList,
  }),
  TLSRPT_RUA: list({
    section: 'mta-sts',
    unset: 'none',
    doc: "this deployment's report URIs (mailto: or https:), in the order to publish",
    readBy: ['policy'],
    parse: ruaList,
  }),
  DNS_SERVERS: list({
    section: 'mta-sts',
    unset: 'system resolver',
    doc: 'resolvers for tlsrpt check and DKIM key lookups, e.g. 127.0.0.1:53, [::1]:5353',
    readBy: ['policy', 'worker'],
    parse: dnsServerList,
  }),
  MTA_STS_CA_FILE: optional({
    section: 'mta-sts',
    unset: 'none',
    doc: 'PEM CA certificates trusted besides the public roots when policies are fetched',
    readBy: ['policy'],
    parse: text,
  }),

  IMAP_URL: list({
    reload: 'imap',
    section: 'imap',
    unset: 'no mailbox',
    secret: true,
    doc: 'mailboxes to read reports from: imap(s)://USER:PASSWORD@HOST:PORT/FOLDER, percent-encoded; no password: XOAUTH2',
    readBy: ['imap'],
    // Kept as written (checked here, read into src/imap/mailboxUrl.ts's MailboxUrl by loadConfig), so that
    // `tlsrpt config` and SIGHUP show and compare them masked like every other secret URL.
    parse: (items, name) => items.map((item) => (parseMailboxUrl(item, name), item)),
  }),
  IMAP_PROCESSED: scalar({
    reload: 'imap',
    section: 'imap',
    default: 'seen',
    doc: 'what happens on the server to a message once stored: seen (flag \\Seen), move:FOLDER, or delete',
    readBy: ['imap'],
    parse: (value, name) => (parseProcessedAction(value, name), value),
  }),
  IMAP_NON_REPORT: scalar({
    reload: 'imap',
    section: 'imap',
    default: 'leave',
    doc: 'what happens to mail that carries no TLS report: leave, or move:FOLDER (never deleted)',
    readBy: ['imap'],
    parse: (value, name) => (parseNonReportAction(value, name), value),
  }),
  IMAP_POLL_SECONDS: scalar({
    reload: 'imap',
    section: 'imap',
    default: '60',
    doc: 'how often a mailbox is looked at when the server has no IDLE (with IDLE: the longest wait between looks)',
    readBy: ['imap'],
    parse: wholeNumber(1, 86_400),
  }),
  IMAP_CA_FILE: optional({
    reload: 'imap',
    section: 'imap',
    unset: 'none',
    doc: 'PEM CA certificates trusted besides the public roots for IMAP servers (an internal CA)',
    readBy: ['imap'],
    parse: text,
  }),
  IMAP_OAUTH2_TOKEN_COMMAND: optional({
    reload: 'imap',
    section: 'imap',
    unset: 'none',
    doc: 'XOAUTH2: a shell command that prints an access token (run again when the server refuses the one it had)',
    readBy: ['imap'],
    parse: text,
  }),
  IMAP_OAUTH2_TOKEN_URL: optional({
    reload: 'imap',
    section: 'imap',
    unset: 'none',
    doc: 'XOAUTH2 refresh-token flow: the token endpoint (Google: https://oauth2.googleapis.com/token)',
    readBy: ['imap'],
    parse: url(['https:', 'http:'], 'https://oauth2.googleapis.com/token', false),
  }),
  IMAP_OAUTH2_CLIENT_ID: optional({
    reload: 'imap',
    section: 'imap',
    unset: 'none',
    doc: 'XOAUTH2 refresh-token flow: the OAuth client ID',
    readBy: ['imap'],
    parse: text,
  }),
  IMAP_OAUTH2_SCOPE: optional({
    section: 'imap',
    reload: 'imap',
    unset: 'the scopes granted',
    doc: 'XOAUTH2 refresh-token flow: scopes to ask for (Microsoft 365: https://outlook.office.com/IMAP.AccessAsUser.All offline_access)',
    readBy: ['imap'],
    parse: text,
  }),
  IMAP_OAUTH2_CLIENT_SECRET: optional({
    reload: 'imap',
    section: 'imap',
    unset: 'none',
    secret: true,
    doc: 'XOAUTH2 refresh-token flow: the OAuth client secret (none for a public client)',
    readBy: ['imap'],
    parse: text,
  }),
  IMAP_OAUTH2_REFRESH_TOKEN: optional({
    reload: 'imap',
    section: 'imap',
    unset: 'none',
    secret: true,
    doc: 'XOAUTH2 refresh-token flow: the refresh token granted for the mailbox',
    readBy: ['imap'],
    parse: text,
  }),
} satisfies Record<string, Variable>;

export type VariableName = keyof typeof VARIABLES;

/** Each variable's typed value, as read from the environment and the file (cross-field checks come after). */
export type Values = { readonly [K in VariableName]: ReturnType<(typeof VARIABLES)[K]['read']> };

export const VARIABLE_NAMES = Object.keys(VARIABLES) as VariableName[];

export function isVariableName(name: string): name is VariableName {
  return Object.hasOwn(VARIABLES, name);
}
