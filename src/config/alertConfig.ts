/**
 * The `alerts` part of the configuration (README "Alerts"): where alerts go, when a window of reports is
 * worth one, and how hard delivery tries. Called by loadConfig with the same environment object, so
 * process.env is still read in one place only; kept in its own file so the core loader stays small.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/** A threshold pair: a window alerts when both are reached. */
export interface Threshold {
  readonly minFailedSessions: number;
  /** 0..100; compared with failed / (failed + successful) * 100. */
  readonly minFailurePercent: number;
}

export interface DomainAlertRule {
  /** false: never alert for this domain (reports are still stored). */
  readonly enabled: boolean;
  /** Any failed session: a window alerts at `warning` when these are reached. */
  readonly warning: Threshold;
  /** Failures while the policy is enforced (mail bounces) and sts-* failures: the louder `critical` class. */
  readonly critical: Threshold;
  /** 0 = no quiet-reporter alerts for this domain. */
  readonly quietReporterDays: number;
}

export type DestinationKind = 'webhook' | 'slack' | 'email';

interface DestinationBase {
  /** Stable, secret-free identity (kind + hash of the address): deliveries are recorded under it. */
  readonly key: string;
  /** Where, for people: secrets in the address masked. */
  readonly target: string;
}

export interface HttpDestinationConfig extends DestinationBase {
  readonly kind: 'webhook' | 'slack';
  readonly url: string;
}

export interface EmailDestinationConfig extends DestinationBase {
  readonly kind: 'email';
  /** nodemailer SMTP URL: smtp://user:pass@host:587 (STARTTLS when offered) or smtps://host:465. */
  readonly smtpUrl: string;
  readonly from: string;
  readonly to: readonly string[];
}

export type AlertDestinationConfig = HttpDestinationConfig | EmailDestinationConfig;

export interface AlertConfig {
  readonly destinations: readonly AlertDestinationConfig[];
  /** The global rule, from the ALERT_* threshold variables. */
  readonly defaultRule: DomainAlertRule;
  /** Per-domain rules from ALERT_RULES_FILE, keys lower-cased; a domain not listed uses defaultRule. */
  readonly domainRules: Readonly<Record<string, DomainAlertRule>>;
  readonly rulesFile: string | null;
  /** How long a window stays open after the first failing report of a domain, collecting more. */
  readonly groupWaitMs: number;
  /** A result type alerted for a domain is not alerted again for it within this time... */
  readonly cooldownMs: number;
  /** ...unless its failed-session count reaches this factor times the count in that alert. */
  readonly growthFactor: number;
  readonly deliveryAttempts: number;
  /** First retry delay; doubles on each attempt (BullMQ exponential backoff). */
  readonly retryDelayMs: number;
  /** How often stalled work is picked up and quiet reporters are looked for. */
  readonly checkIntervalMs: number;
  /** Per HTTP request and per SMTP stage. */
  readonly sendTimeoutMs: number;
}

type Env = Record<string, string | undefined>;

export const ALERT_DEFAULTS = {
  ALERT_MIN_FAILED_SESSIONS: '1',
  ALERT_MIN_FAILURE_PERCENT: '0',
  ALERT_CRITICAL_MIN_FAILED_SESSIONS: '1',
  ALERT_CRITICAL_MIN_FAILURE_PERCENT: '0',
  ALERT_GROUP_WAIT_SECONDS: '600',
  ALERT_COOLDOWN_HOURS: '24',
  ALERT_GROWTH_FACTOR: '2',
  ALERT_QUIET_REPORTER_DAYS: '0',
  ALERT_DELIVERY_ATTEMPTS: '10',
  ALERT_RETRY_DELAY_SECONDS: '30',
  ALERT_CHECK_INTERVAL_SECONDS: '300',
  ALERT_SEND_TIMEOUT_SECONDS: '15',
} as const;

export function loadAlertConfig(env: Env): AlertConfig {
  const get = (name: keyof typeof ALERT_DEFAULTS): string => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? ALERT_DEFAULTS[name] : v.trim();
  };
  const optional = (name: string): string => env[name]?.trim() ?? '';

  const defaultRule: DomainAlertRule = {
    enabled: true,
    warning: {
      minFailedSessions: wholeNumber('ALERT_MIN_FAILED_SESSIONS', get('ALERT_MIN_FAILED_SESSIONS'), 1),
      minFailurePercent: percent('ALERT_MIN_FAILURE_PERCENT', get('ALERT_MIN_FAILURE_PERCENT')),
    },
    critical: {
      minFailedSessions: wholeNumber('ALERT_CRITICAL_MIN_FAILED_SESSIONS', get('ALERT_CRITICAL_MIN_FAILED_SESSIONS'), 1),
      minFailurePercent: percent('ALERT_CRITICAL_MIN_FAILURE_PERCENT', get('ALERT_CRITICAL_MIN_FAILURE_PERCENT')),
    },
    quietReporterDays: wholeNumber('ALERT_QUIET_REPORTER_DAYS', get('ALERT_QUIET_REPORTER_DAYS'), 0, 365),
  };

  const rulesFile = optional('ALERT_RULES_FILE') || null;
  const domainRules = rulesFile ? loadRulesFile(rulesFile, defaultRule) : {};

  const growthFactor = decimal('ALERT_GROWTH_FACTOR', get('ALERT_GROWTH_FACTOR'), 1, 1000);
  if (growthFactor <= 1) {
    throw new ConfigError('ALERT_GROWTH_FACTOR', `${growthFactor} must be above 1 (2 = alert again when the failures double)`);
  }

  return {
    destinations: loadDestinations(optional),
    defaultRule,
    domainRules,
    rulesFile,
    groupWaitMs: seconds('ALERT_GROUP_WAIT_SECONDS', get('ALERT_GROUP_WAIT_SECONDS'), 0, 86_400),
    cooldownMs: decimal('ALERT_COOLDOWN_HOURS', get('ALERT_COOLDOWN_HOURS'), 0, 24 * 365) * 3_600_000,
    growthFactor,
    deliveryAttempts: wholeNumber('ALERT_DELIVERY_ATTEMPTS', get('ALERT_DELIVERY_ATTEMPTS'), 1, 100),
    retryDelayMs: seconds('ALERT_RETRY_DELAY_SECONDS', get('ALERT_RETRY_DELAY_SECONDS'), 0.01, 86_400),
    checkIntervalMs: seconds('ALERT_CHECK_INTERVAL_SECONDS', get('ALERT_CHECK_INTERVAL_SECONDS'), 1, 86_400),
    sendTimeoutMs: seconds('ALERT_SEND_TIMEOUT_SECONDS', get('ALERT_SEND_TIMEOUT_SECONDS'), 0.1, 600),
  };
}

/** The rule in force for a policy domain. */
export function ruleFor(config: AlertConfig, domain: string): DomainAlertRule {
  return config.domainRules[domain.toLowerCase()] ?? config.defaultRule;
}

/** For `tlsrpt config`: webhook URLs carry their secret in the path (Slack), so only masked forms appear. */
export function describeAlertConfig(c: AlertConfig): Record<string, unknown> {
  const targets = (kind: DestinationKind) =>
    c.destinations
      .filter((d) => d.kind === kind)
      .map((d) => d.target)
      .join(', ') || '(none)';
  const email = c.destinations.find((d): d is EmailDestinationConfig => d.kind === 'email');
  return {
    ALERT_WEBHOOK_URLS: targets('webhook'),
    ALERT_SLACK_WEBHOOK_URLS: targets('slack'),
    ALERT_EMAIL_SMTP_URL: email ? maskSecretUrl(email.smtpUrl) : '(none)',
    ALERT_EMAIL_FROM: email?.from ?? '(none)',
    ALERT_EMAIL_TO: email?.to.join(', ') ?? '(none)',
    ALERT_MIN_FAILED_SESSIONS: c.defaultRule.warning.minFailedSessions,
    ALERT_MIN_FAILURE_PERCENT: c.defaultRule.warning.minFailurePercent,
    ALERT_CRITICAL_MIN_FAILED_SESSIONS: c.defaultRule.critical.minFailedSessions,
    ALERT_CRITICAL_MIN_FAILURE_PERCENT: c.defaultRule.critical.minFailurePercent,
    ALERT_RULES_FILE: c.rulesFile ? `${c.rulesFile} (${Object.keys(c.domainRules).length} domain(s))` : '(none)',
    ALERT_GROUP_WAIT_SECONDS: c.groupWaitMs / 1000,
    ALERT_COOLDOWN_HOURS: c.cooldownMs / 3_600_000,
    ALERT_GROWTH_FACTOR: c.growthFactor,
    ALERT_QUIET_REPORTER_DAYS: c.defaultRule.quietReporterDays || '(off)',
    ALERT_DELIVERY_ATTEMPTS: c.deliveryAttempts,
    ALERT_RETRY_DELAY_SECONDS: c.retryDelayMs / 1000,
    ALERT_CHECK_INTERVAL_SECONDS: c.checkIntervalMs / 1000,
    ALERT_SEND_TIMEOUT_SECONDS: c.sendTimeoutMs / 1000,
  };
}

/**
 * A URL as it may be shown: password masked, query dropped, and the path cut after its first segment,
 * because webhook URLs (Slack's /services/T.../B.../secret) carry the credential in the path.
 */
export function maskSecretUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    const [first, ...rest] = u.pathname.split('/').filter(Boolean);
    const path = first === undefined ? '' : `/${first}${rest.length ? '/***' : ''}`;
    return `${u.protocol}//${u.username ? `${u.username}${u.password ? ':***' : ''}@` : ''}${u.host}${path}${u.search ? '?***' : ''}`;
  } catch {
    return '(unparseable)';
  }
}

function loadDestinations(optional: (name: string) => string): AlertDestinationConfig[] {
  const out: AlertDestinationConfig[] = [];
  const seen = new Set<string>();
  const add = (d: AlertDestinationConfig) => {
    if (!seen.has(d.key)) out.push(d); // the same URL listed twice is one destination
    seen.add(d.key);
  };
  for (const [variable, kind] of [
    ['ALERT_WEBHOOK_URLS', 'webhook'],
    ['ALERT_SLACK_WEBHOOK_URLS', 'slack'],
  ] as const) {
    for (const url of splitList(optional(variable))) {
      httpUrl(variable, url);
      add({ kind, key: destinationKey(kind, url), target: maskSecretUrl(url), url });
    }
  }

  const smtpUrl = optional('ALERT_EMAIL_SMTP_URL');
  const from = optional('ALERT_EMAIL_FROM');
  const to = splitList(optional('ALERT_EMAIL_TO'));
  if (smtpUrl || from || to.length) {
    if (!smtpUrl)
      throw new ConfigError(
        'ALERT_EMAIL_SMTP_URL',
        'ALERT_EMAIL_FROM or ALERT_EMAIL_TO is set but not the SMTP server: set all three (smtp://user:pass@mail.example.com:587) or none',
      );
    if (!from)
      throw new ConfigError('ALERT_EMAIL_FROM', 'ALERT_EMAIL_SMTP_URL is set: also set the sender address, e.g. tlsrpt@example.com');
    if (!to.length)
      throw new ConfigError('ALERT_EMAIL_TO', 'ALERT_EMAIL_SMTP_URL is set: also set one or more recipient addresses, comma-separated');
    let u: URL;
    try {
      u = new URL(smtpUrl);
    } catch {
      throw new ConfigError(
        'ALERT_EMAIL_SMTP_URL',
        `"${maskSecretUrl(smtpUrl)}" is not a URL; expected smtp://user:pass@mail.example.com:587 or smtps://...:465`,
      );
    }
    if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') {
      throw new ConfigError('ALERT_EMAIL_SMTP_URL', `scheme "${u.protocol}" is not smtp: or smtps:`);
    }
    address('ALERT_EMAIL_FROM', from);
    for (const a of to) address('ALERT_EMAIL_TO', a);
    const target = `${maskSecretUrl(smtpUrl)} -> ${to.join(', ')}`;
    add({ kind: 'email', key: destinationKey('email', `${smtpUrl}\n${from}\n${to.join(',')}`), target, smtpUrl, from, to });
  }
  return out;
}

function destinationKey(kind: DestinationKind, secretAddress: string): string {
  return `${kind}-${createHash('sha256').update(secretAddress).digest('hex').slice(0, 12)}`;
}

const RULE_KEYS = [
  'enabled',
  'minFailedSessions',
  'minFailurePercent',
  'criticalMinFailedSessions',
  'criticalMinFailurePercent',
  'quietReporterDays',
] as const;

/**
 * ALERT_RULES_FILE: `{"domains": {"example.com": {"minFailedSessions": 10, ...}}}`. Every key is optional and
 * falls back to the global value; an unknown key is an error, so a typo cannot silently loosen a threshold.
 */
function loadRulesFile(path: string, base: DomainAlertRule): Record<string, DomainAlertRule> {
  const fail = (msg: string): never => {
    throw new ConfigError('ALERT_RULES_FILE', `${path}: ${msg}`);
  };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return fail(`cannot read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(json)) return fail('expected an object like {"domains": {"example.com": {"minFailedSessions": 10}}}');
  for (const k of Object.keys(json)) if (k !== 'domains') fail(`unknown key "${k}" (only "domains" is read)`);
  const domains = json.domains ?? {};
  if (!isObject(domains)) return fail('"domains" must be an object keyed by policy domain');

  const out: Record<string, DomainAlertRule> = {};
  for (const [rawDomain, rule] of Object.entries(domains)) {
    const domain = rawDomain.trim().toLowerCase();
    const at = `domains["${rawDomain}"]`;
    if (!/^[a-z0-9_.-]+$/.test(domain) || !domain.includes('.')) fail(`${at}: "${rawDomain}" is not a domain name`);
    if (out[domain]) fail(`${at}: "${domain}" is listed twice`);
    if (!isObject(rule)) return fail(`${at}: expected an object`);
    for (const k of Object.keys(rule)) {
      if (!(RULE_KEYS as readonly string[]).includes(k)) fail(`${at}: unknown key "${k}"; known keys: ${RULE_KEYS.join(', ')}`);
    }
    const num = (key: (typeof RULE_KEYS)[number], fallback: number, min: number, max: number, integer: boolean): number => {
      const v = rule[key];
      if (v === undefined) return fallback;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
        return fail(`${at}.${key}: ${JSON.stringify(v)} must be ${integer ? 'a whole number' : 'a number'} in ${min}..${max}`);
      }
      return v;
    };
    if (rule.enabled !== undefined && typeof rule.enabled !== 'boolean') fail(`${at}.enabled: must be true or false`);
    out[domain] = {
      enabled: rule.enabled !== false,
      warning: {
        minFailedSessions: num('minFailedSessions', base.warning.minFailedSessions, 1, Number.MAX_SAFE_INTEGER, true),
        minFailurePercent: num('minFailurePercent', base.warning.minFailurePercent, 0, 100, false),
      },
      critical: {
        minFailedSessions: num('criticalMinFailedSessions', base.critical.minFailedSessions, 1, Number.MAX_SAFE_INTEGER, true),
        minFailurePercent: num('criticalMinFailurePercent', base.critical.minFailurePercent, 0, 100, false),
      },
      quietReporterDays: num('quietReporterDays', base.quietReporterDays, 0, 365, true),
    };
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function splitList(value: string): string[] {
  return value.split(/[\s,]+/).filter(Boolean);
}

function httpUrl(name: string, value: string): void {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(name, `"${maskSecretUrl(value)}" is not a URL; expected https://host/path (several separated by commas)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new ConfigError(name, `scheme "${u.protocol}" is not https: or http:`);
  }
}

function address(name: string, value: string): void {
  if (!/^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/.test(value)) {
    throw new ConfigError(name, `"${value}" is not a plain e-mail address such as tlsrpt@example.com`);
  }
}

function wholeNumber(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(name, `"${value}" is not a whole number`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, `${n} is outside ${min}..${max}`);
  return n;
}

function decimal(name: string, value: string, min: number, max: number): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new ConfigError(name, `"${value}" is not a number (e.g. 2 or 1.5)`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, `${n} is outside ${min}..${max}`);
  return n;
}

function percent(name: string, value: string): number {
  return decimal(name, value.replace(/%$/, ''), 0, 100);
}

function seconds(name: string, value: string, min: number, max: number): number {
  return Math.round(decimal(name, value, min, max) * 1000);
}
