/**
 * The one table of cases for the UTC day of a report: run through reportDay() (src/rules/reportDay.ts) and
 * through SQL report_day() (migrations/0002) by test/rules/reportDay.test.ts.
 */

export interface ReportDayCase {
  name: string;
  start: string;
  end: string;
  day: string;
}

export const REPORT_DAY_CASES: ReportDayCase[] = [
  {
    name: 'one UTC day, ending at 23:59:59 (Google, Microsoft)',
    start: '2024-03-01T00:00:00Z',
    end: '2024-03-01T23:59:59Z',
    day: '2024-03-01',
  },
  {
    name: 'ending at the next midnight (Stalwart, Mail.ru)',
    start: '2024-03-01T00:00:00Z',
    end: '2024-03-02T00:00:00Z',
    day: '2024-03-01',
  },
  {
    // Project issue 12: the quiet-reporter check used the start's day, 29 February.
    name: "a sender's local midnight across a leap day",
    start: '2024-02-29T23:00:00Z',
    end: '2024-03-01T23:00:00Z',
    day: '2024-03-01',
  },
  { name: 'into a leap day', start: '2024-02-28T23:00:00Z', end: '2024-02-29T23:00:00Z', day: '2024-02-29' },
  { name: 'across new year', start: '2023-12-31T22:00:00Z', end: '2024-01-01T22:00:00Z', day: '2024-01-01' },
  { name: 'a 7-day report counts on its first day', start: '2020-01-01T00:00:00Z', end: '2020-01-07T23:59:59Z', day: '2020-01-01' },
  { name: 'the RFC 8460 example', start: '2002-02-14T05:00:12Z', end: '2002-02-15T04:58:50Z', day: '2002-02-14' },
  { name: 'a middle exactly at midnight is the later day', start: '2024-03-01T12:00:00Z', end: '2024-03-02T12:00:00Z', day: '2024-03-02' },
  { name: 'a middle just before midnight', start: '2024-03-01T11:59:59Z', end: '2024-03-02T11:59:59Z', day: '2024-03-01' },
  { name: 'an offset written in the timestamp', start: '2024-03-01T00:00:00+02:00', end: '2024-03-02T00:00:00+02:00', day: '2024-03-01' },
  { name: 'no length', start: '2024-03-01T23:59:59Z', end: '2024-03-01T23:59:59Z', day: '2024-03-01' },
  { name: 'an end before the start counts as no length', start: '2024-03-01T12:00:00Z', end: '2024-02-28T00:00:00Z', day: '2024-03-01' },
];
