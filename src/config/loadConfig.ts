/**
 * The one place that reads process.env. Everything else receives the frozen Config object.
 * Each variable is documented in README "Configuration"; keep the two in step (test/config asserts it).
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { ConfigError } from '../errors.js';
import { describeAlertConfig, loadAlertConfig, type AlertConfig } from './alertConfig.js';

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
    readonly maxMessageBytes: number;
    readonly maxConnections: number;
    readonly tls: { readonly cert: Buffer; readonly key: Buffer; readonly certPath: string; readonly keyPath: string } | null;
  };
  readonly worker: {
    readonly concurrency: number;
    /** Ceiling on the decompressed size of one report: the defence against decompression bombs. */
    readonly reportMaxBytes: number;
    /** How often stored-but-unprocessed messages are re-enqueued (covers a Redis that lost its jobs). */
    readonly sweepIntervalMs: number;
    /** Attempts for a job that fails for an unknown reason before it is quarantined as internal-error. */
    readonly maxAttempts: number;
  };
  readonly http: HttpConfig;
  readonly logLevel: string;
  readonly shutdownTimeoutMs: number;
  /** Alert destinations, thresholds and delivery (src/config/alertConfig.ts, README "Alerts"). */
  readonly alerts: AlertConfig;
  /** MTA-STS policy hosting and the `tlsrpt policy` / `tlsrpt check` commands (README "MTA-STS"). */
  readonly mtaSts: MtaStsConfig;
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

type Env = Record<string, string | undefined>;

export const DEFAULTS = {
  DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/tlsrpt',
  REDIS_URL: 'redis://127.0.0.1:6379',
  QUEUE_PREFIX: 'tlsrpt',
  SMTP_HOST: '0.0.0.0',
  SMTP_PORT: '2525',
  SMTP_MAX_CONNECTIONS: '500',
  MAX_MESSAGE_SIZE: '10MiB',
  REPORT_MAX_BYTES: '64MiB',
  WORKER_CONCURRENCY: '64',
  WORKER_MAX_ATTEMPTS: '5',
  SWEEP_INTERVAL_SECONDS: '60',
  LOG_LEVEL: 'info',
  SHUTDOWN_TIMEOUT_SECONDS: '30',
} as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env = process.env): Config {
  const get = (name: keyof typeof DEFAULTS): string => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? DEFAULTS[name] : v.trim();
  };

  const databaseUrl = parseUrl('DATABASE_URL', get('DATABASE_URL'), ['postgres:', 'postgresql:']);
  const redisUrl = parseUrl('REDIS_URL', get('REDIS_URL'), ['redis:', 'rediss:']);
  const queuePrefix = get('QUEUE_PREFIX');
  if (!/^[A-Za-z0-9_.-]+$/.test(queuePrefix)) {
    throw new ConfigError('QUEUE_PREFIX', `"${queuePrefix}" must use only letters, digits, "_", "." and "-"`);
  }

  const certPath = env.TLS_CERT?.trim() || '';
  const keyPath = env.TLS_KEY?.trim() || '';
  let tls: Config['smtp']['tls'] = null;
  if (certPath || keyPath) {
    if (!certPath) throw new ConfigError('TLS_CERT', 'TLS_KEY is set but TLS_CERT is not: set both (PEM files) or neither');
    if (!keyPath) throw new ConfigError('TLS_KEY', 'TLS_CERT is set but TLS_KEY is not: set both (PEM files) or neither');
    tls = { cert: readPem('TLS_CERT', certPath), key: readPem('TLS_KEY', keyPath), certPath, keyPath };
  }

  const level = get('LOG_LEVEL').toLowerCase();
  if (!LOG_LEVELS.includes(level)) {
    throw new ConfigError('LOG_LEVEL', `"${level}" is not one of ${LOG_LEVELS.join(', ')}`);
  }

  return deepFreeze({
    databaseUrl,
    redisUrl,
    queuePrefix,
    smtp: {
      host: get('SMTP_HOST'),
      port: parseInteger('SMTP_PORT', get('SMTP_PORT'), 0, 65535),
      serverName: env.SMTP_SERVER_NAME?.trim() || hostname(),
      acceptedRecipients: parseRecipients(env.ACCEPTED_RECIPIENTS ?? ''),
      maxMessageBytes: parseSize('MAX_MESSAGE_SIZE', get('MAX_MESSAGE_SIZE')),
      maxConnections: parseInteger('SMTP_MAX_CONNECTIONS', get('SMTP_MAX_CONNECTIONS'), 1, 100_000),
      tls,
    },
    worker: {
      concurrency: parseInteger('WORKER_CONCURRENCY', get('WORKER_CONCURRENCY'), 1, 1000),
      reportMaxBytes: parseSize('REPORT_MAX_BYTES', get('REPORT_MAX_BYTES')),
      sweepIntervalMs: parseInteger('SWEEP_INTERVAL_SECONDS', get('SWEEP_INTERVAL_SECONDS'), 1, 86_400) * 1000,
      maxAttempts: parseInteger('WORKER_MAX_ATTEMPTS', get('WORKER_MAX_ATTEMPTS'), 1, 100),
    },
    http: loadHttpConfig(env, tls),
    logLevel: level,
    shutdownTimeoutMs: parseInteger('SHUTDOWN_TIMEOUT_SECONDS', get('SHUTDOWN_TIMEOUT_SECONDS'), 1, 3600) * 1000,
    alerts: loadAlertConfig(env),
    mtaSts: loadMtaStsConfig(env),
  });
}

/** The config as it may be printed or logged: passwords in URLs masked, key material left out. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    DATABASE_URL: maskUrl(config.databaseUrl),
    REDIS_URL: maskUrl(config.redisUrl),
    QUEUE_PREFIX: config.queuePrefix,
    SMTP_HOST: config.smtp.host,
    SMTP_PORT: config.smtp.port,
    SMTP_SERVER_NAME: config.smtp.serverName,
    ACCEPTED_RECIPIENTS: config.smtp.acceptedRecipients.length ? config.smtp.acceptedRecipients.join(',') : '(any)',
    MAX_MESSAGE_SIZE: config.smtp.maxMessageBytes,
    SMTP_MAX_CONNECTIONS: config.smtp.maxConnections,
    TLS_CERT: config.smtp.tls?.certPath ?? '(none: STARTTLS not offered)',
    TLS_KEY: config.smtp.tls ? '(set)' : '(none)',
    WORKER_CONCURRENCY: config.worker.concurrency,
    WORKER_MAX_ATTEMPTS: config.worker.maxAttempts,
    REPORT_MAX_BYTES: config.worker.reportMaxBytes,
    SWEEP_INTERVAL_SECONDS: config.worker.sweepIntervalMs / 1000,
    ...describeHttpConfig(config.http),
    LOG_LEVEL: config.logLevel,
    SHUTDOWN_TIMEOUT_SECONDS: config.shutdownTimeoutMs / 1000,
    ...describeAlertConfig(config.alerts),
    MTA_STS_POLICY_DIR: config.mtaSts.policyDir ?? '(none)',
    MTA_STS_POLICY_FILE: config.mtaSts.policyFile ?? '(none)',
    MTA_STS_DOMAINS: config.mtaSts.sharedDomains.join(',') || '(none)',
    TLSRPT_RUA: config.mtaSts.rua.join(',') || '(none: "tlsrpt check" cannot tell whether reports reach this deployment)',
    DNS_SERVERS: config.mtaSts.dnsServers.join(',') || '(system resolver)',
    MTA_STS_CA_FILE: config.mtaSts.extraCa?.path ?? '(none: public roots only)',
  };
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
  /** A request must arrive whole, headers and body, within this time (408 otherwise: slow senders, slowloris). */
  readonly bodyTimeoutMs: number;
  /** Open connections at most; with maxBodyBytes this bounds the memory that bodies in flight can take. */
  readonly maxConnections: number;
  /** Serve HTTPS with the TLS_CERT/TLS_KEY pair (HTTP_TLS=auto|on), or plain HTTP behind a proxy (off). */
  readonly tls: boolean;
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

export const HTTP_DEFAULTS = {
  HTTP_HOST: '0.0.0.0',
  HTTP_PORT: '8080',
  HTTP_REPORT_PATH: '/tlsrpt',
  HTTP_MAX_BODY_SIZE: '2MiB',
  HTTP_RATE_LIMIT_PER_MINUTE: '60',
  HTTP_BODY_TIMEOUT_SECONDS: '30',
  HTTP_MAX_CONNECTIONS: '256',
  HTTP_TLS: 'auto',
  HTTP_TRUST_PROXY: 'off',
  METRICS_MAX_DOMAINS: '100',
  METRICS_ALLOW: 'private',
} as const;

/** METRICS_ALLOW=private: loopback, RFC 1918, link-local and IPv6 unique-local addresses. */
const PRIVATE_RANGES = [
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
];

function loadHttpConfig(env: Env, tls: Config['smtp']['tls']): HttpConfig {
  const get = (name: keyof typeof HTTP_DEFAULTS): string => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? HTTP_DEFAULTS[name] : v.trim();
  };
  const reportPath = get('HTTP_REPORT_PATH');
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(reportPath)) {
    throw new ConfigError(
      'HTTP_REPORT_PATH',
      `"${reportPath}" must be a URL path starting with "/", without query or spaces (e.g. /tlsrpt)`,
    );
  }
  const tlsMode = get('HTTP_TLS').toLowerCase();
  if (!['auto', 'on', 'off'].includes(tlsMode)) {
    throw new ConfigError('HTTP_TLS', `"${tlsMode}" is not one of auto (HTTPS when TLS_CERT/TLS_KEY are set), on, off`);
  }
  if (tlsMode === 'on' && !tls) {
    throw new ConfigError(
      'HTTP_TLS',
      'is "on" but TLS_CERT and TLS_KEY are not set: set them (PEM files), or use HTTP_TLS=off behind a TLS proxy',
    );
  }
  return {
    host: get('HTTP_HOST'),
    port: parseInteger('HTTP_PORT', get('HTTP_PORT'), 0, 65535),
    reportPath,
    maxBodyBytes: parseSize('HTTP_MAX_BODY_SIZE', get('HTTP_MAX_BODY_SIZE')),
    rateLimitPerMinute: parseInteger('HTTP_RATE_LIMIT_PER_MINUTE', get('HTTP_RATE_LIMIT_PER_MINUTE'), 0, 1_000_000),
    bodyTimeoutMs: parseInteger('HTTP_BODY_TIMEOUT_SECONDS', get('HTTP_BODY_TIMEOUT_SECONDS'), 1, 3600) * 1000,
    maxConnections: parseInteger('HTTP_MAX_CONNECTIONS', get('HTTP_MAX_CONNECTIONS'), 1, 100_000),
    tls: tlsMode !== 'off' && tls !== null,
    trustProxy: parseTrustProxy(get('HTTP_TRUST_PROXY')),
    metrics: {
      domains: parseDomainList('METRICS_DOMAINS', env.METRICS_DOMAINS ?? ''),
      maxDomains: parseInteger('METRICS_MAX_DOMAINS', get('METRICS_MAX_DOMAINS'), 0, 10_000),
      allow: parseMetricsAllow(get('METRICS_ALLOW')),
    },
  };
}

function describeHttpConfig(http: HttpConfig): Record<string, unknown> {
  return {
    HTTP_HOST: http.host,
    HTTP_PORT: http.port,
    HTTP_TLS: http.tls ? 'on (HTTPS with TLS_CERT/TLS_KEY)' : 'off (plain HTTP)',
    HTTP_REPORT_PATH: http.reportPath,
    HTTP_MAX_BODY_SIZE: http.maxBodyBytes,
    HTTP_RATE_LIMIT_PER_MINUTE: http.rateLimitPerMinute || '(off)',
    HTTP_BODY_TIMEOUT_SECONDS: http.bodyTimeoutMs / 1000,
    HTTP_MAX_CONNECTIONS: http.maxConnections,
    HTTP_TRUST_PROXY: Array.isArray(http.trustProxy)
      ? http.trustProxy.join(',')
      : http.trustProxy === true
        ? 'on'
        : http.trustProxy || 'off',
    METRICS_DOMAINS: http.metrics.domains.length ? http.metrics.domains.join(',') : '(none)',
    METRICS_MAX_DOMAINS: http.metrics.maxDomains,
    METRICS_ALLOW: http.metrics.allow ? http.metrics.allow.join(',') : 'any',
  };
}

/** "off" | "on" (every hop) | a hop count | addresses and CIDR ranges of the proxies (or loopback, linklocal, uniquelocal). */
function parseTrustProxy(value: string): HttpConfig['trustProxy'] {
  const v = value.toLowerCase();
  if (v === 'off' || v === 'false' || v === 'no') return false;
  if (v === 'on' || v === 'true' || v === 'yes') return true;
  if (/^\d+$/.test(v)) return parseInteger('HTTP_TRUST_PROXY', v, 1, 100);
  return parseAddressList('HTTP_TRUST_PROXY', v, ['loopback', 'linklocal', 'uniquelocal'], 'use e.g. 127.0.0.1, 10.0.0.0/8, or "off"');
}

/** "any" | "private" | addresses and CIDR ranges, which may include "private". */
function parseMetricsAllow(value: string): string[] | null {
  const v = value.toLowerCase();
  if (v === 'any') return null;
  const entries = parseAddressList('METRICS_ALLOW', v, ['private'], 'use e.g. private, 10.0.0.0/8, 192.0.2.7, or "any"');
  return [...new Set(entries.flatMap((e) => (e === 'private' ? PRIVATE_RANGES : [e])))];
}

function parseAddressList(name: string, value: string, keywords: string[], hint: string): string[] {
  const entries = value.split(/[\s,]+/).filter(Boolean);
  for (const e of entries) {
    if (keywords.includes(e)) continue;
    const [addr, bits, extra] = e.split('/');
    const family = isIP(addr ?? '');
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (family === 0 || !bitsOk || extra !== undefined) {
      throw new ConfigError(name, `"${e}" is not an address, a CIDR range or one of ${keywords.join(', ')}; ${hint}`);
    }
  }
  return entries;
}

function parseDomainList(name: string, value: string): string[] {
  const out: string[] = [];
  for (const raw of value.split(/[\s,;]+/)) {
    const d = raw.trim().toLowerCase().replace(/\.$/, '');
    if (!d) continue;
    if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/.test(d)) throw new ConfigError(name, `"${raw}" is not a domain name (e.g. example.com)`);
    if (!out.includes(d)) out.push(d);
  }
  return out;
}

export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable)';
  }
}

function parseUrl(name: string, value: string, protocols: string[]): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(name, `"${value}" is not a URL; expected e.g. ${DEFAULTS[name as keyof typeof DEFAULTS]}`);
  }
  if (!protocols.includes(u.protocol)) {
    throw new ConfigError(name, `scheme "${u.protocol}" is not one of ${protocols.join(', ')}`);
  }
  return value;
}

function parseInteger(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(name, `"${value}" is not a whole number`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, `${n} is outside ${min}..${max}`);
  return n;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** "10MiB", "500kB", "1048576" -> bytes. */
export function parseSize(name: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new ConfigError(name, `"${value}" is not a size; use bytes or a unit such as 512KiB, 10MiB, 1GiB`);
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < 1024) throw new ConfigError(name, `${bytes} bytes is too small; use at least 1KiB`);
  return bytes;
}

/**
 * "tlsrpt@example.com, reports.example.org" -> addresses and whole domains, lower-cased.
 * A leading "@" on a domain is accepted ("@example.org").
 */
function parseRecipients(value: string): string[] {
  const out: string[] = [];
  for (const raw of value.split(/[\s,;]+/)) {
    const item = raw.trim().toLowerCase().replace(/^@/, '');
    if (!item) continue;
    const at = item.indexOf('@');
    const domain = at >= 0 ? item.slice(at + 1) : item;
    if ((at >= 0 && at === 0) || item.indexOf('@', at + 1) !== -1 || !/^[a-z0-9.-]+\.?[a-z0-9-]*$/.test(domain) || !domain.includes('.')) {
      throw new ConfigError('ACCEPTED_RECIPIENTS', `"${raw}" is neither an address (tlsrpt@example.com) nor a domain (example.com)`);
    }
    out.push(item);
  }
  return out;
}

function loadMtaStsConfig(env: Env): MtaStsConfig {
  const opt = (name: string): string | null => env[name]?.trim() || null;
  const policyDir = opt('MTA_STS_POLICY_DIR');
  if (policyDir) {
    let isDir: boolean;
    try {
      isDir = statSync(policyDir).isDirectory();
    } catch (err) {
      throw new ConfigError('MTA_STS_POLICY_DIR', `cannot read "${policyDir}": ${(err as Error).message}`);
    }
    if (!isDir)
      throw new ConfigError('MTA_STS_POLICY_DIR', `"${policyDir}" is not a directory; it should hold one <domain>.txt policy per domain`);
  }
  const policyFile = opt('MTA_STS_POLICY_FILE');
  const sharedDomains = (env.MTA_STS_DOMAINS ?? '')
    .split(/[\s,;]+/)
    .filter(Boolean)
    .map((d) => {
      const domain = d.toLowerCase().replace(/\.$/, '');
      if (!isHostName(domain)) throw new ConfigError('MTA_STS_DOMAINS', `"${d}" is not a domain name (expected e.g. example.com)`);
      return domain;
    });
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
  const caPath = opt('MTA_STS_CA_FILE');
  return {
    policyDir,
    policyFile,
    sharedDomains,
    rua: parseRua(env.TLSRPT_RUA ?? ''),
    dnsServers: parseDnsServers(env.DNS_SERVERS ?? ''),
    extraCa: caPath ? { path: caPath, pem: readPem('MTA_STS_CA_FILE', caPath) } : null,
  };
}

function isHostName(name: string): boolean {
  return name.length <= 253 && name.split('.').every((l) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(l));
}

/**
 * "mailto:tlsrpt@example.com, https://example.com/tlsrpt" -> rua URIs (RFC 8460 3). A bare address is refused
 * rather than silently prefixed: the record it would generate is the mistake that crashed a sender (sys4 #54).
 */
function parseRua(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((uri) => {
      if (/^mailto:[^@\s]+@[^@\s]+\.[^@\s]+$/i.test(uri)) return `mailto:${uri.slice('mailto:'.length)}`;
      if (/^https:\/\/[^\s]+$/i.test(uri)) return uri;
      const hint = uri.includes('@') && !uri.includes(':') ? ` (did you mean "mailto:${uri}"?)` : '';
      throw new ConfigError('TLSRPT_RUA', `"${uri}" is not a mailto: or https: URI${hint}`);
    });
}

/** "127.0.0.1:5353, [::1]:53, 192.0.2.1" -> the forms node:dns Resolver.setServers accepts. */
function parseDnsServers(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((server) => {
      const m = /^\[([0-9a-f:.]+)\](?::(\d+))?$/i.exec(server) ?? /^([0-9.]+)(?::(\d+))?$/.exec(server) ?? /^([0-9a-f:]+)()$/i.exec(server);
      const ip = m?.[1] ?? '';
      const port = m?.[2] ? Number(m[2]) : 53;
      if (!m || !isIP(ip) || port < 1 || port > 65535) {
        throw new ConfigError('DNS_SERVERS', `"${server}" is not an IP address with optional port (e.g. 127.0.0.1:53 or [::1]:5353)`);
      }
      return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
    });
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
