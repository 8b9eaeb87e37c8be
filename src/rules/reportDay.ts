/**
 * The UTC day a report's numbers are attributed to: the day holding the middle of the report's first 24
 * hours. The TypeScript side of SQL function report_day(start_at, end_at) (migrations/0002, where the
 * reasons are written out; it stays there because index reports_day_idx is built on it, so changing it
 * takes a migration that rebuilds the index). Cases both sides run: test/rules/reportDay.cases.ts.
 *   2024-03-01T00:00Z .. 2024-03-01T23:59:59Z -> 2024-03-01
 *   2024-03-01T00:00Z .. 2024-03-02T00:00Z    -> 2024-03-01, not two days
 *   2024-02-29T23:00Z .. 2024-03-01T23:00Z    -> 2024-03-01 (a sender's local midnight)
 *   2020-01-01T00:00Z .. 2020-01-07T23:59:59Z -> 2020-01-01 (a multi-day report counts on its first day)
 */

const DAY_MS = 86_400_000;

/** YYYY-MM-DD. An end before the start counts as a report of no length (the start's day). */
export function reportDay(startAt: Date, endAt: Date): string {
  const length = Math.min(Math.max(endAt.getTime() - startAt.getTime(), 0), DAY_MS);
  return new Date(startAt.getTime() + length / 2).toISOString().slice(0, 10);
}
