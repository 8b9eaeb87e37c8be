/**
 * "Quiet reporter": a reporter that sent daily reports for a domain and then stopped. Pure: the caller
 * lists, per (domain, reporter), the days reported recently and the end of the last report.
 *
 * Silence alone means little (quirk 23): Microsoft reports only days on which it delivered mail, and
 * Google stops a week after its last delivery. So only a reporter that reported nearly every day counts
 * as daily, and the silence is counted from when its next report was due: a day's report arrives during
 * the following day, so one day of delay is allowed before any day is counted as missing.
 */
import type { QuietReporterAlert } from './alertContent.js';

export interface ReporterHistory {
  policyDomain: string;
  organizationName: string;
  contactInfo: string | null;
  /**
   * The days (YYYY-MM-DD) of the reporter's reports, any order: each report's day by the one day rule
   * (src/rules/reportDay.ts, SQL report_day()), the day the stats count it on.
   */
  reportDays: string[];
  lastReportEnd: Date;
}

export interface QuietReporterFinding {
  /** The alert's identity: one alert per reporter and silence, however often the check runs. */
  dedupeKey: string;
  alert: QuietReporterAlert;
}

/** "Daily": reports on at least this many of the 7 days up to the last report. */
export const DAILY_MIN_DAYS_OF_WEEK = 5;
/** A silence found later than this many days after it reached the threshold is history, not news. */
export const STALE_AFTER_DAYS = 7;
/** A report covers one UTC day (RFC 8460 4.1) and arrives during the next one. */
const DELIVERY_ALLOWANCE_DAYS = 1;
const DAY_MS = 86_400_000;

export function evaluateQuietReporters(
  reporters: readonly ReporterHistory[],
  daysFor: (policyDomain: string) => number,
  now: Date,
): QuietReporterFinding[] {
  const out: QuietReporterFinding[] = [];
  for (const r of reporters) {
    const days = daysFor(r.policyDomain);
    if (days <= 0) continue;
    // The week up to the latest report's day: the days the stats show, whatever range convention the
    // reporter uses (an end at 23:59:59, at the next midnight, or at its own local midnight: quirk 13).
    if (r.reportDays.length === 0) continue;
    const lastDayStart = Math.max(...r.reportDays.map((d) => Date.parse(`${d}T00:00:00Z`)));
    const weekStart = lastDayStart - 6 * DAY_MS;
    const reportedInWeek = new Set(
      r.reportDays.filter((d) => {
        const t = Date.parse(`${d}T00:00:00Z`);
        return t >= weekStart && t <= lastDayStart;
      }),
    ).size;
    if (reportedInWeek < DAILY_MIN_DAYS_OF_WEEK) continue;

    const silentMs = now.getTime() - r.lastReportEnd.getTime();
    const thresholdMs = (days + DELIVERY_ALLOWANCE_DAYS) * DAY_MS;
    if (silentMs < thresholdMs || silentMs >= thresholdMs + STALE_AFTER_DAYS * DAY_MS) continue;

    out.push({
      dedupeKey: `quiet-reporter:${r.policyDomain}:${r.organizationName}:${r.lastReportEnd.toISOString()}`,
      alert: {
        kind: 'quiet-reporter',
        severity: 'warning',
        policyDomain: r.policyDomain,
        organizationName: r.organizationName,
        contactInfo: r.contactInfo,
        lastReportEnd: r.lastReportEnd.toISOString(),
        daysSilent: Math.floor(silentMs / DAY_MS),
        daysReportedInLastWeek: reportedInWeek,
      },
    });
  }
  return out;
}
