/**
 * The one place that reads process.env and the configuration file. Everything else receives the frozen Config.
 * The variables are declared in variables.ts (parser, default, doc); this file reads each one (environment
 * first, then the TLSRPT_CONFIG file, then the default), checks the ones that depend on each other, reads
 * the files they name, and assembles the Config the services use.
 */
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import type { AuthenticationSettings } from '../auth/authenticateMessage.js';
import { ConfigError } from '../errors.js';
import { parseMailboxUrl, type MailboxUrl } from '../imap/mailboxUrl.js';
import { parseNonReportAction, parseProcessedAction, type NonReportAction, type ProcessedAction } from '../imap/serverAction.js';
import { loadAlertConfig, type AlertConfig } from './alertConfig.js';
import { readConfigFile, type ConfigFile } from './readConfigFile.js';
import { VARIABLES, VARIABLE_NAMES, type VariableName, type Values } from './variables.js';

export { describeConfig } from './describeConfig.js';
export { maskUrl } from './valueParsers.js';

export interface Config {
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** BullMQ key prefix in Redis, so several deployments (or test runs) can share one Redis. */
  readonly queuePrefix: string;
  readonly smtp: {
    readonly host: string;
    readonly port: number;
    /** Name announced in the greeting and in "queued as" replies. */
    readonly serverName: string;
    /** Lower-cased addresses ("tlsrpt@example.com") and domains ("example.com"); empty = accept every recipient. */
    readonly acceptedRecipients: readonly string[];
    /** SMTP_ACCEPT_ANY_RECIPIENT: an empty acceptedRecipients is allowed on a non-loopback host (src/receive/recipientGuard.ts). */
    readonly acceptAnyRecipient: boolean;
    readonly maxMessageBytes: number;
    readonly maxConnections: number;
    /** Per-session limits (src/receive/smtpSessionLimits.ts); 0 = no limit. */
    readonly maxConnectionsPerClient: number;
    readonly maxSessionMs: number;
    readonly maxCommandsWithoutMail: number;
    /** Time limit of the commit of a received message (451 past it). */
    readonly commitTimeoutMs: number;
    /** The STARTTLS pair: SMTP_TLS_CERT/SMTP_TLS_KEY, else TLS_CERT/TLS_KEY; null: STARTTLS is not offered. */
    readonly tls: TlsPairConfig | null;
  };
  readonly worker: {
    readonly concurrency: number;
    /** Ceiling on the decompressed size of one report: the defence against decompression bombs. */
    readonly reportMaxBytes: number;
    /** WORKER_MEMORY_BUDGET (src/pipeline/memoryBudget.ts). */
    readonly memoryBudgetBytes: number;
    /** How often stored-but-unprocessed messages are re-enqueued (covers a Redis that lost its jobs). */
    readonly sweepIntervalMs: number;
    /** Attempts for a job that fails for an unknown reason before it is quarantined as internal-error. */
    readonly maxAttempts: number;
    /** DKIM verification and HTTPS trust (README "Authentication (DKIM)"): createAuthenticator's settings. */
    readonly authentication: AuthenticationSettings;
  };
  /** What the daily prune removes, in days after receipt or storage; 0 keeps it forever (README "Retention"). */
  readonly retention: RetentionConfig;
  readonly http: HttpConfig;
  readonly logLevel: string;
  readonly shutdownTimeoutMs: number;
  /** TLS_RELOAD_CHECK_SECONDS: how often certificate files are read again for a renewal; 0 = only on SIGHUP. */
  readonly tlsReloadCheckMs: number;
  /** Alert destinations, thresholds and delivery (src/config/alertConfig.ts, README "Alerts"). */
  readonly alerts: AlertConfig;
  /** MTA-STS policy hosting and the `tlsrpt policy` / `tlsrpt check` commands (README "MTA-STS"). */
  readonly mtaSts: MtaStsConfig;
  /** Mailboxes `tlsrpt imap` (and `serve`) read reports from (README "Reading reports from a mailbox (IMAP)"). */
  readonly imap: ImapConfig;
  /** The file named by TLSRPT_CONFIG (or --config), or null. */
  readonly configFile: string | null;
  /** Each variable's value as read (before cross-field checks): what `tlsrpt config` prints and SIGHUP compares. */
  readonly values: Values;
}

/** A certificate chain and its key as read at load time, with the paths they are read again from. */
export interface TlsPairConfig {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface ImapConfig {
  /** Empty: no mailbox is read (`serve` starts no IMAP reader; `tlsrpt imap` refuses to run). */
  readonly mailboxes: readonly MailboxUrl[];
  readonly processed: ProcessedAction;
  readonly nonReport: NonReportAction;
  readonly pollMs: number;
  /** How a mailbox without a password in its URL gets its XOAUTH2 access token; null when none is set. */
  readonly oauth2: OAuth2Config | null;
  /** Extra CA certificates (PEM) trusted for IMAP servers, besides the public roots. */
  readonly extraCa: { readonly path: string; readonly pem: Buffer } | null;
}

export type OAuth2Config =
  | { readonly kind: 'command'; readonly command: string }
  | {
      readonly kind: 'refresh';
      readonly tokenUrl: string;
      readonly clientId: string;
      readonly clientSecret: string | null;
      readonly refreshToken: string;
      readonly scope: string | null;
    };

export interface RetentionConfig {
  /** Raw bytes of settled (stored, duplicate, conflict) messages. */
  readonly rawDays: number;
  /** Quarantined messages, row and bytes. */
  readonly quarantineDays: number;
  /** Reports, policies and failure details (by month partition), and the rows of settled messages. */
  readonly reportDays: number;
}

export interface MtaStsConfig {
  /** Directory with one `<domain>.txt` policy per domain, served at https://mta-sts.<domain>/.well-known/mta-sts.txt. */
  readonly policyDir: string | null;
  /** One policy file served for every domain in `sharedDomains`. */
  readonly policyFile: string | null;
  readonly sharedDomains: readonly string[];
  /** This deployment's TLS-RPT report addresses (RFC 8460 3 rua URIs, mailto: or https:), in the order to publish. */
  readonly rua: readonly string[];
  /** DNS servers (host or host:port) for `tlsrpt check`; empty = the system resolver. */
  readonly dnsServers: readonly string[];
  /** Extra CA certificates (PEM) trusted, besides the public roots, when fetching policies. */
  readonly extraCa: { readonly path: string; readonly pem: Buffer } | null;
}

/**
 * The HTTPS report endpoint (RFC 8460 5.4), /metrics and the health checks: README "HTTPS reports, metrics
 * and health checks" documents each variable.
 */
export interface HttpConfig {
  readonly host: string;
  readonly port: number;
  /** The path of the `rua=https://...` URI that report POSTs arrive at. */
  readonly reportPath: string;
  /** Largest POST body accepted (413 above it). Bodies are held in memory: see maxConnections. */
  readonly maxBodyBytes: number;
  /** Report POSTs per client address per minute (429 above it); 0 turns the limit off. */
  readonly rateLimitPerMinute: number;
  /** Per-sender tokens (HTTP_REPORT_TOKENS): a POST bearing one is recorded as authenticated by that sender. */
  readonly reportTokens: ReadonlyArray<{ readonly sender: string; readonly token: string }>;
  /** A request must arrive whole, headers and body, within this time (408 otherwise: slow senders, slowloris). */
  readonly bodyTimeoutMs: number;
  /** Open connections at most; with maxBodyBytes this bounds the memory that bodies in flight can take. */
  readonly maxConnections: number;
  /** Serve HTTPS (HTTP_TLS=auto with a certificate set, or on), or plain HTTP behind a proxy. */
  readonly tls: boolean;
  /**
   * The HTTPS pair (HTTP_TLS_CERT/HTTP_TLS_KEY, else TLS_CERT/TLS_KEY): served to clients that name no
   * certificate of `certificateDir`. Null when plain HTTP, or when the folder alone serves HTTPS.
   */
  readonly certificate: TlsPairConfig | null;
  /** MTA_STS_CERT_DIR when serving HTTPS: certbot's live/ layout, a certificate chosen per connection by SNI. */
  readonly certificateDir: string | null;
  /** METRICS_PORT/METRICS_HOST: a second, plain-HTTP listener for /metrics, /healthz and /readyz; null: none. */
  readonly metricsListener: { readonly host: string; readonly port: number } | null;
  /** Which proxies' X-Forwarded-For to believe for the client address (rate limit, logs): fastify trustProxy. */
  readonly trustProxy: boolean | number | readonly string[];
  readonly metrics: {
    /** Policy domains always exported in the per-domain series, even before their first report. */
    readonly domains: readonly string[];
    /** How many other policy domains get series of their own; the rest are summed as policy_domain="other". */
    readonly maxDomains: number;
    /** Client addresses and CIDR ranges that may GET /metrics (403 for others); null lets anyone. */
    readonly allow: readonly string[] | null;
  };
}

type Env = Record<string, string | undefined>;

/**
 * The configuration from `env` (process.env by default) and, when env.TLSRPT_CONFIG names one, the YAML file:
 * a variable set (non-empty) in the environment wins over the file, the file over the default.
 */
export function loadConfig(env: Env = process.env): Config {
  const configFile = env.TLSRPT_CONFIG?.trim() || null;
  const file = configFile ? readConfigFile(configFile) : null;
  const values = readValues(env, file);

  const tls = readTlsPair(values, 'TLS_CERT', 'TLS_KEY');
  // A pair of its own, or TLS_CERT/TLS_KEY: never a certificate of one with the key of the other.
  const smtpTls = readTlsPair(values, 'SMTP_TLS_CERT', 'SMTP_TLS_KEY') ?? tls;

  return deepFreeze({
    databaseUrl: values.DATABASE_URL,
    redisUrl: values.REDIS_URL,
    queuePrefix: values.QUEUE_PREFIX,
    smtp: {
      host: values.SMTP_HOST,
      port: values.SMTP_PORT,
      serverName: values.SMTP_SERVER_NAME ?? hostname(),
      acceptedRecipients: values.ACCEPTED_RECIPIENTS,
      acceptAnyRecipient: values.SMTP_ACCEPT_ANY_RECIPIENT === 'on',
      maxMessageBytes: values.MAX_MESSAGE_SIZE,
      maxConnections: values.SMTP_MAX_CONNECTIONS,
      maxConnectionsPerClient: values.SMTP_MAX_CONNECTIONS_PER_CLIENT,
      maxSessionMs: values.SMTP_MAX_SESSION_SECONDS * 1000,
      maxCommandsWithoutMail: values.SMTP_MAX_COMMANDS_WITHOUT_MAIL,
      commitTimeoutMs: values.SMTP_COMMIT_TIMEOUT_SECONDS * 1000,
      tls: smtpTls,
    },
    worker: {
      concurrency: values.WORKER_CONCURRENCY,
      reportMaxBytes: values.REPORT_MAX_BYTES,
      memoryBudgetBytes: values.WORKER_MEMORY_BUDGET,
      sweepIntervalMs: values.SWEEP_INTERVAL_SECONDS * 1000,
      maxAttempts: values.WORKER_MAX_ATTEMPTS,
      authentication: {
        mode: values.REPORT_AUTHENTICATION,
        dnsServers: values.DNS_SERVERS,
        dnsTimeoutMs: values.DKIM_DNS_TIMEOUT_SECONDS * 1000,
        // A key record is kept five minutes: a published key is seen by a retry soon after.
        dnsCacheMs: 5 * 60_000,
        temperrorRetryMs: values.DKIM_TEMPERROR_RETRY_HOURS * 3_600_000,
        httpTrustedClients: values.HTTP_TRUSTED_CLIENTS,
      },
    },
    retention: {
      rawDays: values.RETENTION_RAW_DAYS,
      quarantineDays: values.RETENTION_QUARANTINE_DAYS,
      reportDays: values.RETENTION_REPORT_DAYS,
    },
    http: loadHttpConfig(values, tls),
    logLevel: values.LOG_LEVEL,
    shutdownTimeoutMs: values.SHUTDOWN_TIMEOUT_SECONDS * 1000,
    tlsReloadCheckMs: values.TLS_RELOAD_CHECK_SECONDS * 1000,
    alerts: loadAlertConfig(values),
    mtaSts: loadMtaStsConfig(values),
    imap: loadImapConfig(values),
    configFile,
    values,
  });
}

/** Each variable from the environment, else the file, else its default; a file value's error names its line. */
function readValues(env: Env, file: ConfigFile | null): Values {
  const out: Record<string, unknown> = {};
  for (const name of VARIABLE_NAMES) {
    const fromEnv = env[name];
    const fromFile = file?.settings.get(name);
    if (file && fromFile && (fromEnv === undefined || fromEnv.trim() === '')) {
      try {
        out[name] = VARIABLES[name].read(fromFile.value, name);
      } catch (err) {
        throw inFile(err, name, file.path, fromFile.line);
      }
    } else {
      out[name] = VARIABLES[name].read(fromEnv, name);
    }
  }
  return out as Values;
}

function inFile(err: unknown, name: VariableName, path: string, line: number): unknown {
  if (!(err instanceof ConfigError)) return err;
  return new ConfigError(name, `${err.message.slice(name.length + 2)} (set in ${path}:${line})`);
}

function loadHttpConfig(values: Values, inherited: TlsPairConfig | null): HttpConfig {
  const off = values.HTTP_TLS === 'off';
  // Read only when HTTPS may use it: with HTTP_TLS=off a proxy holds the certificate.
  const certificate = off ? null : (readTlsPair(values, 'HTTP_TLS_CERT', 'HTTP_TLS_KEY') ?? inherited);
  const certificateDir = off ? null : values.MTA_STS_CERT_DIR;
  if (certificateDir)
    requireDirectory('MTA_STS_CERT_DIR', certificateDir, "it should hold one sub-folder per certificate (certbot's live/)");
  if (values.HTTP_TLS === 'on' && !certificate && !certificateDir) {
    throw new ConfigError(
      'HTTP_TLS',
      'is "on" but no certificate is set: set HTTP_TLS_CERT and HTTP_TLS_KEY (or TLS_CERT and TLS_KEY), or MTA_STS_CERT_DIR; ' +
        'or use HTTP_TLS=off behind a TLS proxy',
    );
  }
  const metricsPort = values.METRICS_PORT;
  return {
    host: values.HTTP_HOST,
    port: values.HTTP_PORT,
    reportPath: values.HTTP_REPORT_PATH,
    maxBodyBytes: values.HTTP_MAX_BODY_SIZE,
    rateLimitPerMinute: values.HTTP_RATE_LIMIT_PER_MINUTE,
    reportTokens: values.HTTP_REPORT_TOKENS,
    bodyTimeoutMs: values.HTTP_BODY_TIMEOUT_SECONDS * 1000,
    maxConnections: values.HTTP_MAX_CONNECTIONS,
    tls: certificate !== null || certificateDir !== null,
    certificate,
    certificateDir,
    metricsListener: metricsPort === null ? null : { host: values.METRICS_HOST ?? values.HTTP_HOST, port: metricsPort },
    trustProxy: values.HTTP_TRUST_PROXY,
    metrics: {
      domains: values.METRICS_DOMAINS,
      maxDomains: values.METRICS_MAX_DOMAINS,
      allow: values.METRICS_ALLOW,
    },
  };
}

function loadMtaStsConfig(values: Values): MtaStsConfig {
  const policyDir = values.MTA_STS_POLICY_DIR;
  if (policyDir) requireDirectory('MTA_STS_POLICY_DIR', policyDir, 'it should hold one <domain>.txt policy per domain');
  const policyFile = values.MTA_STS_POLICY_FILE;
  const sharedDomains = values.MTA_STS_DOMAINS;
  if (policyFile && !sharedDomains.length) {
    throw new ConfigError(
      'MTA_STS_DOMAINS',
      'MTA_STS_POLICY_FILE is set but MTA_STS_DOMAINS is empty: list the domains that share the policy',
    );
  }
  if (sharedDomains.length && !policyFile) {
    throw new ConfigError(
      'MTA_STS_POLICY_FILE',
      'MTA_STS_DOMAINS is set but MTA_STS_POLICY_FILE is not: name the policy file the domains share',
    );
  }
  const caPath = values.MTA_STS_CA_FILE;
  return {
    policyDir,
    policyFile,
    sharedDomains,
    rua: values.TLSRPT_RUA,
    dnsServers: values.DNS_SERVERS,
    extraCa: caPath ? { path: caPath, pem: readPem('MTA_STS_CA_FILE', caPath) } : null,
  };
}

function loadImapConfig(values: Values): ImapConfig {
  const mailboxes = values.IMAP_URL.map((item) => parseMailboxUrl(item, 'IMAP_URL'));
  const oauth2 = loadOAuth2Config(values);
  const tokenless = mailboxes.find((m) => m.password === null);
  if (tokenless && !oauth2) {
    throw new ConfigError(
      'IMAP_URL',
      `${tokenless.label} has no password, so it logs in with XOAUTH2, but no token source is set: ` +
        'put an (app) password in the URL, or set IMAP_OAUTH2_TOKEN_COMMAND, or IMAP_OAUTH2_TOKEN_URL with IMAP_OAUTH2_CLIENT_ID and IMAP_OAUTH2_REFRESH_TOKEN',
    );
  }
  return {
    mailboxes,
    processed: parseProcessedAction(values.IMAP_PROCESSED, 'IMAP_PROCESSED'),
    nonReport: parseNonReportAction(values.IMAP_NON_REPORT, 'IMAP_NON_REPORT'),
    pollMs: values.IMAP_POLL_SECONDS * 1000,
    oauth2,
    extraCa: values.IMAP_CA_FILE ? { path: values.IMAP_CA_FILE, pem: readPem('IMAP_CA_FILE', values.IMAP_CA_FILE) } : null,
  };
}

function loadOAuth2Config(values: Values): OAuth2Config | null {
  const command = values.IMAP_OAUTH2_TOKEN_COMMAND;
  const tokenUrl = values.IMAP_OAUTH2_TOKEN_URL;
  const clientId = values.IMAP_OAUTH2_CLIENT_ID;
  const refreshToken = values.IMAP_OAUTH2_REFRESH_TOKEN;
  const flow = tokenUrl || clientId || refreshToken || values.IMAP_OAUTH2_CLIENT_SECRET || values.IMAP_OAUTH2_SCOPE;
  if (command && flow) {
    throw new ConfigError(
      'IMAP_OAUTH2_TOKEN_COMMAND',
      'is set together with the refresh-token flow (IMAP_OAUTH2_TOKEN_URL, _CLIENT_ID, _CLIENT_SECRET, _REFRESH_TOKEN): set one or the other',
    );
  }
  if (command) return { kind: 'command', command };
  if (!flow) return null;
  if (!tokenUrl)
    throw new ConfigError(
      'IMAP_OAUTH2_TOKEN_URL',
      'the refresh-token flow needs the token endpoint (Google: https://oauth2.googleapis.com/token)',
    );
  if (!clientId) throw new ConfigError('IMAP_OAUTH2_CLIENT_ID', 'the refresh-token flow needs the OAuth client ID');
  if (!refreshToken)
    throw new ConfigError('IMAP_OAUTH2_REFRESH_TOKEN', 'the refresh-token flow needs the refresh token granted for the mailbox');
  return {
    kind: 'refresh',
    tokenUrl,
    clientId,
    clientSecret: values.IMAP_OAUTH2_CLIENT_SECRET,
    refreshToken,
    scope: values.IMAP_OAUTH2_SCOPE,
  };
}

/** The pair named by `certName`/`keyName`, read; null when neither is set. */
function readTlsPair(
  values: Values,
  certName: 'TLS_CERT' | 'SMTP_TLS_CERT' | 'HTTP_TLS_CERT',
  keyName: VariableName,
): TlsPairConfig | null {
  const certPath = values[certName];
  const keyPath = values[keyName] as string | null;
  if (!certPath && !keyPath) return null;
  if (!certPath) throw new ConfigError(certName, `${keyName} is set but ${certName} is not: set both (PEM files) or neither`);
  if (!keyPath) throw new ConfigError(keyName, `${certName} is set but ${keyName} is not: set both (PEM files) or neither`);
  return { cert: readPem(certName, certPath), key: readPem(keyName, keyPath), certPath, keyPath };
}

function requireDirectory(name: VariableName, path: string, what: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new ConfigError(name, `cannot read "${path}": ${(err as Error).message}`);
  }
  if (!isDir) throw new ConfigError(name, `"${path}" is not a directory; ${what}`);
}

function readPem(name: string, path: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new ConfigError(name, `cannot read "${path}": ${(err as Error).message}`);
  }
  if (!data.includes('-----BEGIN')) throw new ConfigError(name, `"${path}" is not a PEM file`);
  return data;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Buffer.isBuffer(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
