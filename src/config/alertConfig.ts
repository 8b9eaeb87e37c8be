/**
 * The `alerts` part of the configuration (README "Alerts"): where alerts go, when a window of reports is
 * worth one, and how hard delivery tries. The ALERT_* variables are declared in variables.ts; this file
 * checks the ones that go together (the e-mail trio) and reads ALERT_RULES_FILE.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { domainNameProblem, normaliseDomainName } from '../rules/domainName.js';
import { maskSecretUrl } from './valueParsers.js';
import type { Values } from './variables.js';

export { maskSecretUrl };

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
  /** ALERT_WEBHOOK_SECRET, for generic webhooks: each POST is signed with it (src/alert/deliver/signPayload.ts). */
  readonly signingSecret?: string | null;
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
  /**
   * A report whose date range ended longer than this before it was stored joins no window (ALERT_MAX_REPORT_AGE):
   * a backfill of old mail is history, not news. It still counts in every view.
   */
  readonly maxReportAgeMs: number;
  /** A result type alerted for a domain is not alerted again for it within this time... */
  readonly cooldownMs: number;
  /** ...unless its failed-session count reaches this factor times the count in that alert. */
  readonly growthFactor: number;
  readonly deliveryAttempts: number;
  /** First retry delay; doubles on each attempt (BullMQ exponential backoff). */
  readonly retryDelayMs: number;
  /** How often stalled work is picked up and quiet reporters are looked for. */
  readonly checkIntervalMs: number;
  /** Count only authenticated reports in a window (ALERT_AUTHENTICATED_ONLY; README "Authentication (DKIM)"). */
  readonly authenticatedOnly: boolean;
  /** Per HTTP request and per SMTP stage. */
  readonly sendTimeoutMs: number;
}

export function loadAlertConfig(values: Values): AlertConfig {
  const defaultRule: DomainAlertRule = {
    enabled: true,
    warning: { minFailedSessions: values.ALERT_MIN_FAILED_SESSIONS, minFailurePercent: values.ALERT_MIN_FAILURE_PERCENT },
    critical: {
      minFailedSessions: values.ALERT_CRITICAL_MIN_FAILED_SESSIONS,
      minFailurePercent: values.ALERT_CRITICAL_MIN_FAILURE_PERCENT,
    },
    quietReporterDays: values.ALERT_QUIET_REPORTER_DAYS,
  };
  const rulesFile = values.ALERT_RULES_FILE;
  return {
    destinations: loadDestinations(values),
    defaultRule,
    domainRules: rulesFile ? loadRulesFile(rulesFile, defaultRule) : {},
    rulesFile,
    groupWaitMs: Math.round(values.ALERT_GROUP_WAIT_SECONDS * 1000),
    maxReportAgeMs: values.ALERT_MAX_REPORT_AGE,
    cooldownMs: values.ALERT_COOLDOWN_HOURS * 3_600_000,
    growthFactor: values.ALERT_GROWTH_FACTOR,
    deliveryAttempts: values.ALERT_DELIVERY_ATTEMPTS,
    retryDelayMs: Math.round(values.ALERT_RETRY_DELAY_SECONDS * 1000),
    checkIntervalMs: Math.round(values.ALERT_CHECK_INTERVAL_SECONDS * 1000),
    authenticatedOnly: values.ALERT_AUTHENTICATED_ONLY === 'on',
    sendTimeoutMs: Math.round(values.ALERT_SEND_TIMEOUT_SECONDS * 1000),
  };
}

/** The rule in force for a policy domain. */
export function ruleFor(config: AlertConfig, domain: string): DomainAlertRule {
  return config.domainRules[domain.toLowerCase()] ?? config.defaultRule;
}

function loadDestinations(values: Values): AlertDestinationConfig[] {
  const out: AlertDestinationConfig[] = [];
  const seen = new Set<string>();
  const add = (d: AlertDestinationConfig) => {
    if (!seen.has(d.key)) out.push(d); // the same URL listed twice is one destination
    seen.add(d.key);
  };
  for (const [urls, kind] of [
    [values.ALERT_WEBHOOK_URLS, 'webhook'],
    [values.ALERT_SLACK_WEBHOOK_URLS, 'slack'],
  ] as const) {
    const signingSecret = kind === 'webhook' ? values.ALERT_WEBHOOK_SECRET : null;
    for (const url of urls) add({ kind, key: destinationKey(kind, url), target: maskSecretUrl(url), url, signingSecret });
  }

  const smtpUrl = values.ALERT_EMAIL_SMTP_URL;
  const from = values.ALERT_EMAIL_FROM;
  const to = values.ALERT_EMAIL_TO;
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
    const domain = normaliseDomainName(rawDomain);
    const at = `domains["${rawDomain}"]`;
    const problem = domainNameProblem(domain);
    if (problem) fail(`${at}: "${rawDomain}" is not a domain name: ${problem}`);
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
