/** evaluateQuietReporters: who counts as a daily reporter, and when its silence becomes an alert. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateQuietReporters, type ReporterHistory } from '../../src/alert/decide/evaluateQuietReporters.js';
import { reportDay } from '../../src/rules/reportDay.js';

// Google reported 2026-05-04 .. 2026-05-10, every day; the last report ends 2026-05-10T23:59:59Z.
const GOOGLE: ReporterHistory = {
  policyDomain: 'example.com',
  organizationName: 'Google Inc.',
  contactInfo: 'smtp-tls-reporting@google.com',
  reportDays: ['2026-05-04', '2026-05-05', '2026-05-06', '2026-05-07', '2026-05-08', '2026-05-09', '2026-05-10'],
  lastReportEnd: new Date('2026-05-10T23:59:59Z'),
};
const three = () => 3;

describe('evaluateQuietReporters (ALERT_QUIET_REPORTER_DAYS=3)', () => {
  it('waits for the 3 days plus one day of delivery delay', () => {
    // 2026-05-14T23:59:58Z is 1 s short of 4 days after the last report's end.
    assert.deepEqual(evaluateQuietReporters([GOOGLE], three, new Date('2026-05-14T23:59:58Z')), []);
  });

  it('alerts once 4 days have passed since the end of the last report', () => {
    const found = evaluateQuietReporters([GOOGLE], three, new Date('2026-05-15T00:00:00Z'));
    assert.deepEqual(found, [
      {
        dedupeKey: 'quiet-reporter:example.com:Google Inc.:2026-05-10T23:59:59.000Z',
        alert: {
          kind: 'quiet-reporter',
          severity: 'warning',
          policyDomain: 'example.com',
          organizationName: 'Google Inc.',
          contactInfo: 'smtp-tls-reporting@google.com',
          lastReportEnd: '2026-05-10T23:59:59.000Z',
          daysSilent: 4,
          daysReportedInLastWeek: 7,
        },
      },
    ]);
  });

  it('keeps the same dedupe key while the silence lasts, and treats a silence a week past the threshold as history', () => {
    const later = evaluateQuietReporters([GOOGLE], three, new Date('2026-05-21T23:00:00Z'));
    assert.equal(later[0]?.dedupeKey, 'quiet-reporter:example.com:Google Inc.:2026-05-10T23:59:59.000Z');
    assert.equal(later[0]?.alert.daysSilent, 10);
    // 4 days + 7 days after 2026-05-10T23:59:59Z is 2026-05-21T23:59:59Z.
    assert.deepEqual(evaluateQuietReporters([GOOGLE], three, new Date('2026-05-21T23:59:59Z')), []);
  });

  it('ignores reporters that did not report on at least 5 of the last 7 days (quirk 23: Microsoft reports only days with mail)', () => {
    const sparse = {
      ...GOOGLE,
      organizationName: 'Microsoft Corporation',
      reportDays: ['2026-05-04', '2026-05-07', '2026-05-09', '2026-05-10'],
    };
    assert.deepEqual(evaluateQuietReporters([sparse], three, new Date('2026-05-16T00:00:00Z')), []);
    const five = { ...GOOGLE, reportDays: ['2026-05-01', '2026-05-04', '2026-05-06', '2026-05-07', '2026-05-09', '2026-05-10'] };
    assert.equal(evaluateQuietReporters([five], three, new Date('2026-05-16T00:00:00Z')).length, 1); // 05-04,06,07,09,10
  });

  it("counts a report on the day the stats count it: a sender's local midnight across the leap day is 1 March", () => {
    // Daily ranges from 23:00 to 23:00 UTC, the last one 2024-02-29T23:00Z .. 2024-03-01T23:00Z: by the start
    // day these were 23..29 February, and the week up to 1 March held only 6 of them.
    const ranges = Array.from({ length: 7 }, (_, i) => {
      const start = new Date(Date.parse('2024-02-23T23:00:00Z') + i * 86_400_000);
      return { start, end: new Date(start.getTime() + 86_400_000) };
    });
    const local: ReporterHistory = {
      ...GOOGLE,
      reportDays: ranges.map((r) => reportDay(r.start, r.end)),
      lastReportEnd: ranges[6]!.end,
    };
    assert.deepEqual(local.reportDays.slice(-2), ['2024-02-29', '2024-03-01']);
    const [found] = evaluateQuietReporters([local], three, new Date('2024-03-06T00:00:00Z'));
    assert.equal(found?.alert.daysReportedInLastWeek, 7);
  });

  it('is off for a domain whose setting is 0', () => {
    assert.deepEqual(
      evaluateQuietReporters([GOOGLE], () => 0, new Date('2026-05-16T00:00:00Z')),
      [],
    );
  });
});
