/**
 * What an alert says, as data: decided by the evaluate* functions, stored in alerts.content (jsonb), sent
 * as is to generic webhooks, and rendered to text by formatAlert. Dates are ISO strings so the content
 * survives the round trip through jsonb unchanged.
 */

export type Severity = 'warning' | 'critical';

/** How the policy of a failing session was being applied, as the reporter saw it. */
export type PolicyMode = 'enforce' | 'testing' | 'none' | 'dane' | 'no-policy' | 'unknown';

/** Why a result type is in the alert. */
export type TriggerReason = 'new' | 'grown' | 'cooldown-over' | 'now-critical';

export interface HostCount {
  value: string;
  sessions: number;
}

export interface ResultTypeSummary {
  resultType: string;
  failedSessions: number;
  /** Failed while the policy was enforced, or an sts-* policy failure. */
  critical: boolean;
  /** null: still in its cooldown, listed for the full picture only. */
  trigger: TriggerReason | null;
  /** The earlier alert this repeats, when there was one. */
  previous: { alertedAt: string; failedSessions: number } | null;
  receivingMxHostnames: HostCount[];
  receivingIps: HostCount[];
  sendingMtaIps: HostCount[];
  /** failure-reason-code and additional-information values, as sent. */
  reasonCodes: string[];
  meaning: string;
  fix: string;
  /** The mail provider every failing MX belongs to (src/alert/decide/mailProviders.ts); `fix` then says to contact them. */
  mxProvider?: string;
}

export interface ReporterSummary {
  organizationName: string;
  contactInfo: string | null;
  reports: number;
  successfulSessions: number;
  failedSessions: number;
}

export interface ModeSummary {
  mode: PolicyMode;
  policyType: string;
  organizations: string[];
}

export interface FailedSessionsAlert {
  kind: 'failed-sessions';
  severity: Severity;
  policyDomain: string;
  /** Earliest start and latest end of the reports in the window (RFC 8460 4.4 date-range). */
  dateRange: { start: string; end: string };
  window: { openedAt: string; closesAt: string };
  reporters: ReporterSummary[];
  modes: ModeSummary[];
  sessions: { successful: number; failed: number; failurePercent: number };
  /** Plain-words reasons for the critical class; empty for warnings. */
  criticalReasons: string[];
  /** Sorted by failed sessions, most first. */
  resultTypes: ResultTypeSummary[];
}

export interface QuietReporterAlert {
  kind: 'quiet-reporter';
  severity: 'warning';
  policyDomain: string;
  organizationName: string;
  contactInfo: string | null;
  /** End of the reporter's last report. */
  lastReportEnd: string;
  daysSilent: number;
  /** Distinct days reported in the week up to the last report. */
  daysReportedInLastWeek: number;
}

export interface TestAlert {
  kind: 'test';
  severity: 'warning';
  policyDomain: string;
  sentAt: string;
}

export type AlertContent = FailedSessionsAlert | QuietReporterAlert | TestAlert;
