/**
 * Decides whether one evaluation window (the reports of one policy domain that arrived close together)
 * is worth an alert, and what the alert says. Pure: the caller loads the window, the domain's cooldown
 * history and the rule; nothing here touches the database or the clock.
 *
 * 1. Add up the window: sessions per reporter, per result type, with the MX hosts and IPs involved.
 * 2. Thresholds: the window alerts as `critical` when the failures in the louder class (policy enforced,
 *    or an sts-* policy failure) reach the critical thresholds, else as `warning` when all failures reach
 *    the warning thresholds, else not at all.
 * 3. Cooldown per (domain, result type): a result type alerted before is repeated only once the cooldown
 *    has passed, when its count reached growthFactor times the alerted count, or when it became critical.
 *    The window alerts when at least one result type is due; the message then lists every result type of
 *    the window, marking which are new.
 */
import type { DomainAlertRule } from '../../config/alertConfig.js';
import { explainResultType } from '../../resultTypes.js';
import { countedSessions } from '../../rules/countedSessions.js';
import { isKnownStsMode, stsMode } from '../../rules/stsMode.js';
import { commonMailProvider } from './mailProviders.js';
import type {
  FailedSessionsAlert,
  HostCount,
  ModeSummary,
  PolicyMode,
  ReporterSummary,
  ResultTypeSummary,
  TriggerReason,
} from './alertContent.js';

export interface WindowDetail {
  resultType: string;
  sendingMtaIp: string | null;
  receivingMxHostname: string | null;
  receivingIp: string | null;
  failedSessions: number;
  failureReasonCode: string | null;
  additionalInformation: string | null;
}

/** One policy of a report, for the window's domain only. */
export interface WindowPolicy {
  policyType: string;
  policyString: string[];
  successfulSessions: number;
  failedSessions: number;
  details: WindowDetail[];
}

export interface WindowReport {
  organizationName: string;
  contactInfo: string | null;
  startAt: Date;
  endAt: Date;
  policies: WindowPolicy[];
}

/** The latest alert that announced a result type for the domain, before this window. */
export interface CooldownState {
  resultType: string;
  alertedAt: Date;
  failedSessions: number;
  critical: boolean;
}

export interface WindowInput {
  policyDomain: string;
  openedAt: Date;
  closesAt: Date;
  reports: WindowReport[];
  history: CooldownState[];
  rule: DomainAlertRule;
  cooldownMs: number;
  growthFactor: number;
}

export interface WindowTotals {
  successful: number;
  failed: number;
  criticalFailed: number;
}

export type WindowEvaluation =
  | { outcome: 'alert'; alert: FailedSessionsAlert; totals: WindowTotals }
  | { outcome: 'disabled' | 'below-threshold'; totals: WindowTotals }
  /** Every result type that passed the thresholds is still in its cooldown. */
  | { outcome: 'cooldown'; totals: WindowTotals; suppressed: string[] };

/**
 * Failed sessions the reporters counted without listing any failure detail: still worth an alert, under a
 * name of its own (not an IANA result type).
 */
export const NO_FAILURE_DETAILS = 'no-failure-details';

const TOP_HOSTS = 5;
const TOP_REASON_CODES = 5;

interface TypeAcc {
  failed: number;
  critical: boolean;
  mx: Map<string, number>;
  receivingIps: Map<string, number>;
  sendingIps: Map<string, number>;
  reasonCodes: Set<string>;
}

export function evaluateWindow(input: WindowInput): WindowEvaluation {
  const { rule } = input;
  const types = new Map<string, TypeAcc>();
  const reporters = new Map<string, ReporterSummary>();
  const modes = new Map<string, ModeSummary>();
  let successful = 0;
  let failed = 0;
  let criticalFailed = 0;
  let enforceFailed = false;
  let daneFailed = false;
  const stsTypes = new Set<string>();

  for (const report of input.reports) {
    const policies = report.policies.map((p) => ({ ...p, mode: policyMode(p.policyType, p.policyString) }));
    for (const p of policies) {
      const key = `${p.mode}|${p.policyType}`;
      const m = modes.get(key) ?? { mode: p.mode, policyType: p.policyType, organizations: [] };
      if (!m.organizations.includes(report.organizationName)) m.organizations.push(report.organizationName);
      modes.set(key, m);
    }

    // Quirk 5: a domain with both DANE and MTA-STS gets one policy of each type in the same report, and
    // both describe the same sessions (Microsoft). The sessions of one policy type count, chosen by the
    // rule every total of this project follows (src/rules/countedSessions.ts), so the alert's failure rate
    // is the one `tlsrpt stats`, the views and the readiness verdict give for the same reports. Its
    // totals are the report's own; the result types below come from the failure details (quirk 4: the two
    // may disagree, and both are shown as sent).
    const counted = countedSessions(policies);
    const reportOk = counted?.successfulSessions ?? 0;
    const reportFailed = counted?.failedSessions ?? 0;
    successful += reportOk;
    failed += reportFailed;

    const byType = new Map<string, { sessions: number; critical: boolean; details: WindowDetail[] }>();
    for (const p of policies) {
      const enforced = p.mode === 'enforce' || p.mode === 'dane';
      const grouped = new Map<string, WindowDetail[]>();
      for (const d of p.details) grouped.set(d.resultType, [...(grouped.get(d.resultType) ?? []), d]);
      if (p.details.length === 0 && p.failedSessions > 0) {
        grouped.set(NO_FAILURE_DETAILS, [{ ...EMPTY_DETAIL, failedSessions: p.failedSessions }]);
      }
      for (const [resultType, details] of grouped) {
        const sessions = sum(details.map((d) => d.failedSessions));
        if (sessions === 0) continue;
        const isSts = resultType.startsWith('sts-');
        if (p.mode === 'enforce') enforceFailed = true;
        if (p.mode === 'dane') daneFailed = true;
        if (isSts) stsTypes.add(resultType);
        const critical = enforced || isSts;
        const prev = byType.get(resultType);
        if (!prev || sessions > prev.sessions) byType.set(resultType, { sessions, critical: critical || Boolean(prev?.critical), details });
        else prev.critical ||= critical;
      }
    }

    let reportCritical = 0;
    for (const [resultType, v] of byType) {
      const acc = types.get(resultType) ?? {
        failed: 0,
        critical: false,
        mx: new Map(),
        receivingIps: new Map(),
        sendingIps: new Map(),
        reasonCodes: new Set(),
      };
      acc.failed += v.sessions;
      acc.critical ||= v.critical;
      if (v.critical) reportCritical += v.sessions;
      for (const d of v.details) {
        count(acc.mx, d.receivingMxHostname, d.failedSessions);
        count(acc.receivingIps, d.receivingIp, d.failedSessions);
        count(acc.sendingIps, d.sendingMtaIp, d.failedSessions);
        for (const code of [d.failureReasonCode, d.additionalInformation]) if (code) acc.reasonCodes.add(code.trim());
      }
      types.set(resultType, acc);
    }
    criticalFailed += Math.min(reportCritical, reportFailed);

    const r = reporters.get(report.organizationName) ?? {
      organizationName: report.organizationName,
      contactInfo: report.contactInfo,
      reports: 0,
      successfulSessions: 0,
      failedSessions: 0,
    };
    r.reports += 1;
    r.successfulSessions += reportOk;
    r.failedSessions += reportFailed;
    r.contactInfo ??= report.contactInfo;
    reporters.set(report.organizationName, r);
  }

  const totals: WindowTotals = { successful, failed, criticalFailed };
  if (!rule.enabled) return { outcome: 'disabled', totals };

  const all = successful + failed;
  const pct = (n: number) => (all === 0 ? 0 : (n / all) * 100);
  const reaches = (n: number, t: DomainAlertRule['warning']) => n > 0 && n >= t.minFailedSessions && pct(n) >= t.minFailurePercent;
  const isCritical = reaches(criticalFailed, rule.critical);
  const isWarning = reaches(failed, rule.warning);
  if (!isCritical && !isWarning) return { outcome: 'below-threshold', totals };

  // Below the warning thresholds only the critical result types may trigger; the others still ride along.
  const history = new Map(input.history.map((h) => [h.resultType, h]));
  const triggers = new Map<string, TriggerReason | null>();
  for (const [resultType, acc] of types) {
    const candidate = isWarning || acc.critical;
    triggers.set(resultType, candidate ? due(acc, history.get(resultType), input) : null);
  }
  if (![...triggers.values()].some(Boolean)) {
    return { outcome: 'cooldown', totals, suppressed: [...types.keys()].sort() };
  }

  const resultTypes: ResultTypeSummary[] = [...types]
    .map(([resultType, acc]) => {
      const previous = history.get(resultType);
      const info = resultType === NO_FAILURE_DETAILS ? NO_FAILURE_DETAILS_INFO : explainResultType(resultType);
      const forDomain = (s: string) => s.replaceAll('<domain>', input.policyDomain || 'your-domain');
      return {
        resultType,
        failedSessions: acc.failed,
        critical: acc.critical,
        trigger: triggers.get(resultType) ?? null,
        previous: previous ? { alertedAt: previous.alertedAt.toISOString(), failedSessions: previous.failedSessions } : null,
        receivingMxHostnames: top(acc.mx),
        receivingIps: top(acc.receivingIps),
        sendingMtaIps: top(acc.sendingIps),
        reasonCodes: [...acc.reasonCodes].slice(0, TOP_REASON_CODES),
        meaning: forDomain(info.meaning),
        fix: forDomain(info.fix),
        ...providerAdvice(resultType, [...acc.mx.keys()]),
      };
    })
    .sort(
      (a, b) => b.failedSessions - a.failedSessions || Number(b.critical) - Number(a.critical) || a.resultType.localeCompare(b.resultType),
    );

  const criticalReasons: string[] = [];
  if (isCritical) {
    if (enforceFailed) {
      criticalReasons.push(
        'The MTA-STS policy is in enforce mode: senders that honour it do not deliver over a session that fails (RFC 8461 section 5), so this mail was not delivered; it is retried, and bounces if the failure persists.',
      );
    }
    if (daneFailed) {
      criticalReasons.push(
        'DANE has no testing mode: a sender that validates the TLSA records does not deliver when they do not match (RFC 7672).',
      );
    }
    if (stsTypes.size) {
      criticalReasons.push(
        `The MTA-STS policy itself failed (${[...stsTypes].sort().join(', ')}): senders cannot apply it, and once their cached copy expires (max_age) the domain is no longer protected.`,
      );
    }
  }

  const starts = input.reports.map((r) => r.startAt.getTime());
  const ends = input.reports.map((r) => r.endAt.getTime());
  return {
    outcome: 'alert',
    totals,
    alert: {
      kind: 'failed-sessions',
      severity: isCritical ? 'critical' : 'warning',
      policyDomain: input.policyDomain,
      dateRange: { start: new Date(Math.min(...starts)).toISOString(), end: new Date(Math.max(...ends)).toISOString() },
      window: { openedAt: input.openedAt.toISOString(), closesAt: input.closesAt.toISOString() },
      reporters: [...reporters.values()].sort(
        (a, b) => b.failedSessions - a.failedSessions || a.organizationName.localeCompare(b.organizationName),
      ),
      modes: [...modes.values()].sort(
        (a, b) => MODE_ORDER.indexOf(a.mode) - MODE_ORDER.indexOf(b.mode) || a.policyType.localeCompare(b.policyType),
      ),
      sessions: { successful, failed, failurePercent: Math.round(pct(failed) * 100) / 100 },
      criticalReasons,
      resultTypes,
    },
  };
}

/**
 * The mode a failing session was judged under. RFC 8460 4.3 reports the policy as fetched: for sts the
 * policy-string holds the RFC 8461 3.2 policy lines, "mode: enforce" among them, read by the one sts-mode
 * rule (src/rules/stsMode.ts) that `tlsrpt check` and the SQL use too.
 */
export function policyMode(policyType: string, policyString: readonly string[]): PolicyMode {
  if (policyType === 'tlsa') return 'dane';
  if (policyType === 'no-policy-found') return 'no-policy';
  if (policyType !== 'sts') return 'unknown';
  const mode = stsMode(policyString);
  return isKnownStsMode(mode) ? mode : 'unknown';
}

/**
 * When every failing MX of a negotiation failure belongs to one well-known mail provider, the fix is the
 * provider's: the advice says so instead of asking the reader to renew a certificate they do not hold.
 * sts-* failures are about the domain's own policy host, and stay as they are.
 */
function providerAdvice(resultType: string, mxHosts: string[]): { mxProvider?: string; fix?: string } {
  if (resultType.startsWith('sts-') || resultType === NO_FAILURE_DETAILS) return {};
  const provider = commonMailProvider(mxHosts);
  if (!provider) return {};
  return {
    mxProvider: provider,
    fix:
      `The failing MX is your provider's: ${mxHosts.length === 1 ? 'it belongs' : 'they all belong'} to ${provider}. ` +
      `There is nothing to fix on your side for it; if it persists, contact ${provider} support with this report.`,
  };
}

function due(acc: TypeAcc, last: CooldownState | undefined, input: WindowInput): TriggerReason | null {
  if (!last) return 'new';
  if (acc.critical && !last.critical) return 'now-critical';
  if (input.openedAt.getTime() - last.alertedAt.getTime() >= input.cooldownMs) return 'cooldown-over';
  if (acc.failed >= last.failedSessions * input.growthFactor) return 'grown';
  return null;
}

const MODE_ORDER: PolicyMode[] = ['enforce', 'dane', 'testing', 'none', 'no-policy', 'unknown'];

const EMPTY_DETAIL: WindowDetail = {
  resultType: NO_FAILURE_DETAILS,
  sendingMtaIp: null,
  receivingMxHostname: null,
  receivingIp: null,
  failedSessions: 0,
  failureReasonCode: null,
  additionalInformation: null,
};

export const NO_FAILURE_DETAILS_INFO = {
  meaning: 'Not an IANA result type: the reporter counted failed sessions but listed no failure details.',
  fix: 'Test each MX of <domain> with an SMTP TLS checker, or ask the reporter (contact-info) for details.',
};

function count(map: Map<string, number>, key: string | null, n: number): void {
  if (key) map.set(key, (map.get(key) ?? 0) + n);
}

function top(map: Map<string, number>): HostCount[] {
  return [...map]
    .map(([value, sessions]) => ({ value, sessions }))
    .sort((a, b) => b.sessions - a.sessions || a.value.localeCompare(b.value))
    .slice(0, TOP_HOSTS);
}

function sum(ns: number[]): number {
  return ns.reduce((a, b) => a + b, 0);
}
