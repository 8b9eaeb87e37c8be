/**
 * The alert that one report raises on its own: a window on 2026-02-09 holding only `report` (covering
 * 2026-02-08), no earlier alerts, and every threshold at one failed session, so any failure alerts. For the
 * tests of what an alert says (formatAlert, its delivery).
 */
import assert from 'node:assert/strict';
import type { FailedSessionsAlert } from '../../src/alert/decide/alertContent.js';
import { evaluateWindow, type WindowReport } from '../../src/alert/decide/evaluateWindow.js';

const RULE = {
  enabled: true,
  warning: { minFailedSessions: 1, minFailurePercent: 0 },
  critical: { minFailedSessions: 1, minFailurePercent: 0 },
  quietReporterDays: 0,
};

/** Fails the test when the window raises no alert. */
export function alertForReport(report: Omit<WindowReport, 'startAt' | 'endAt'>, policyDomain = 'example.com'): FailedSessionsAlert {
  const e = evaluateWindow({
    policyDomain,
    openedAt: new Date('2026-02-09T07:12:00Z'),
    closesAt: new Date('2026-02-09T07:22:00Z'),
    reports: [{ ...report, startAt: new Date('2026-02-08T00:00:00Z'), endAt: new Date('2026-02-08T23:59:59Z') }],
    history: [],
    rule: RULE,
    cooldownMs: 86_400_000,
    growthFactor: 2,
  });
  assert.equal(e.outcome, 'alert');
  return (e as { alert: FailedSessionsAlert }).alert;
}
