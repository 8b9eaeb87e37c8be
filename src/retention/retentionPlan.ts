/**
 * What retention removes, decided from the settings and the clock alone (README "Retention"). Pure: the
 * prune (./pruneData.ts) and the partitions kept ahead (./ensurePartitions.ts) act on these answers.
 */

export interface RetentionSettings {
  /** Raw bytes of settled (stored, duplicate, conflict) messages, in days after receipt; 0 keeps them. */
  readonly rawDays: number;
  /** Quarantined messages, row and bytes, in days after receipt; 0 keeps them. */
  readonly quarantineDays: number;
  /** Reports, policies, failure details (whole months), and settled message rows; 0 keeps them. */
  readonly reportDays: number;
}

/** Whatever was received or stored before these instants goes; null: that kind is kept forever. */
export interface RetentionCutoffs {
  readonly raw: Date | null;
  readonly quarantine: Date | null;
  readonly reports: Date | null;
}

const DAY_MS = 86_400_000;

export function retentionCutoffs(settings: RetentionSettings, now: Date): RetentionCutoffs {
  const before = (days: number) => (days === 0 ? null : new Date(now.getTime() - days * DAY_MS));
  return { raw: before(settings.rawDays), quarantine: before(settings.quarantineDays), reports: before(settings.reportDays) };
}

/** One month partition of a partitioned table: rows stored from `from` (inclusive) to `to` (exclusive). */
export interface MonthPartition {
  readonly parent: string;
  readonly name: string;
  readonly from: Date;
  readonly to: Date;
}

/**
 * The partitions retention drops, grouped by month ("2025-10"), oldest first: those whose whole month was
 * stored before the cutoff. A month is kept while any of its rows is younger than RETENTION_REPORT_DAYS,
 * so rows are kept between RETENTION_REPORT_DAYS and that plus one month.
 */
export function monthsToDrop(partitions: readonly MonthPartition[], reportsCutoff: Date | null): Array<[string, MonthPartition[]]> {
  if (reportsCutoff === null) return [];
  const byMonth = new Map<string, MonthPartition[]>();
  for (const p of partitions) {
    if (p.to.getTime() > reportsCutoff.getTime()) continue;
    const month = monthKey(p.from);
    byMonth.set(month, [...(byMonth.get(month) ?? []), p]);
  }
  return [...byMonth.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** "2025-10" for any instant of October 2025, UTC (partition bounds are UTC months). */
export function monthKey(t: Date): string {
  return t.toISOString().slice(0, 7);
}

/**
 * The first days (UTC, "YYYY-MM-01") of this month and the `ahead` months after it: the partitions that
 * must exist so that every report stored until the next check has one.
 */
export function monthsFrom(now: Date, ahead: number): string[] {
  const months: string[] = [];
  for (let i = 0; i <= ahead; i++) {
    const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
    months.push(first.toISOString().slice(0, 10));
  }
  return months;
}
