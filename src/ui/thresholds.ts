/**
 * The readiness thresholds of the pages, as `tlsrpt readiness` takes them (--days, --max-failure-rate,
 * --min-days, --min-reporters, --authenticated-only), kept in this browser's localStorage so the Domain page judges as the list did.
 */
export interface Thresholds {
  days: number;
  max_failure_rate: number;
  min_days: number;
  min_reporters: number;
  authenticated_only: boolean;
}

/** The defaults of enforce_readiness_for() (src/stats/queryReadiness.ts READINESS_DEFAULTS). */
export const DEFAULTS: Thresholds = { days: 14, max_failure_rate: 0.001, min_days: 7, min_reporters: 2, authenticated_only: false };

const KEY = 'tlsrpt.thresholds';

export function loadThresholds(): Thresholds {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Partial<Thresholds> | null;
    return { ...DEFAULTS, ...(saved ?? {}) };
  } catch (err) {
    console.warn('ignoring unreadable saved thresholds', err);
    return { ...DEFAULTS };
  }
}

export function saveThresholds(t: Thresholds): void {
  localStorage.setItem(KEY, JSON.stringify(t));
}
