/**
 * The configuration as `tlsrpt config` prints it and the start-up log records it: every variable of the
 * table (variables.ts) in its order, secrets masked, long lists summarised, and where the value in force
 * differs from the one written (HTTP_TLS=auto, SMTP_SERVER_NAME unset) the value in force.
 */
import type { Config } from './loadConfig.js';
import { summariseList } from './summariseList.js';
import { maskSecretUrl } from './valueParsers.js';
import { VARIABLES, VARIABLE_NAMES, type VariableName } from './variables.js';

export function describeConfig(config: Config): Record<VariableName, unknown> {
  const out = {} as Record<VariableName, unknown>;
  for (const name of VARIABLE_NAMES) out[name] = describeValue(name, config.values[name]);
  return { ...out, ...inForce(config) };
}

/** One variable's value as it may be shown. */
export function describeValue(name: VariableName, value: unknown): unknown {
  const spec = VARIABLES[name];
  const mask = (v: string) => (spec.secret ? maskSecretUrl(v) : v);
  if (value === null) return `(${spec.unset})`;
  if (Array.isArray(value)) return value.length ? summariseList(value.map((v) => mask(String(v)))) : `(${spec.unset})`;
  if (typeof value === 'string') return mask(value);
  return value;
}

function httpsCertificates(http: Config['http']): string {
  const pair = http.certificate ? http.certificate.certPath : null;
  if (!http.certificateDir) return pair ?? '';
  return pair ? `the certificates of ${http.certificateDir} by name, else ${pair}` : `the certificates of ${http.certificateDir} by name`;
}

/** Values whose effect is not the text written: what is in force instead. */
function inForce(config: Config): Partial<Record<VariableName, unknown>> {
  const { http, smtp, alerts } = config;
  return {
    SMTP_SERVER_NAME: smtp.serverName,
    SMTP_TLS_CERT: smtp.tls?.certPath ?? '(none: STARTTLS not offered)',
    SMTP_TLS_KEY: smtp.tls?.keyPath ?? '(none)',
    HTTP_TLS: http.tls ? `on (HTTPS with ${httpsCertificates(http)})` : 'off (plain HTTP)',
    HTTP_TLS_CERT: http.certificate?.certPath ?? '(none)',
    HTTP_TLS_KEY: http.certificate?.keyPath ?? '(none)',
    METRICS_HOST: http.metricsListener?.host ?? '(no METRICS_PORT)',
    HTTP_RATE_LIMIT_PER_MINUTE: http.rateLimitPerMinute || '(off)',
    // The senders, never the tokens.
    HTTP_REPORT_TOKENS: http.reportTokens.length ? summariseList(http.reportTokens.map((t) => `${t.sender}=***`)) : '(none)',
    HTTP_TRUST_PROXY: Array.isArray(http.trustProxy)
      ? http.trustProxy.join(', ')
      : http.trustProxy === true
        ? 'on'
        : http.trustProxy || 'off',
    METRICS_ALLOW: http.metrics.allow ? summariseList(http.metrics.allow) : 'any',
    ALERT_RULES_FILE: alerts.rulesFile ? `${alerts.rulesFile} (${Object.keys(alerts.domainRules).length} domain(s))` : '(none)',
    ALERT_QUIET_REPORTER_DAYS: alerts.defaultRule.quietReporterDays || '(off)',
    ALERT_EMAIL_SMTP_URL: config.values.ALERT_EMAIL_SMTP_URL ? maskSecretUrl(config.values.ALERT_EMAIL_SMTP_URL) : '(none)',
  };
}
