/**
 * The one place that reads process.env. Everything else receives the frozen Config object.
 * Each variable is documented in README "Configuration"; keep the two in step (test/config asserts it).
 */
import { readFileSync } from 'node:fs';
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
  readonly logLevel: string;
  readonly shutdownTimeoutMs: number;
  /** Alert destinations, thresholds and delivery (src/config/alertConfig.ts, README "Alerts"). */
  readonly alerts: AlertConfig;
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
  WORKER_CONCURRENCY: '8',
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
    logLevel: level,
    shutdownTimeoutMs: parseInteger('SHUTDOWN_TIMEOUT_SECONDS', get('SHUTDOWN_TIMEOUT_SECONDS'), 1, 3600) * 1000,
    alerts: loadAlertConfig(env),
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
    LOG_LEVEL: config.logLevel,
    SHUTDOWN_TIMEOUT_SECONDS: config.shutdownTimeoutMs / 1000,
    ...describeAlertConfig(config.alerts),
  };
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
  '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
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
