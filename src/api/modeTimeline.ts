/**
 * The MTA-STS mode a domain's reporters saw, day by day (sts_mode() of each sts policy they quoted), as
 * periods: consecutive days on which the same set of modes was reported make one period. Pure.
 * A change from testing to enforce shows as a period "testing", maybe one "enforce, testing" (reporters
 * still holding the cached policy, RFC 8461 5.1 max_age), then "enforce".
 */
export interface ModeObservation {
  day: string;
  organization_name: string;
  /** sts_mode() of the quoted policy; null when it has no mode line. */
  mode: string | null;
}

export interface ModePeriod {
  /** The modes reported in the period, sorted; "(none given)" for a policy without a mode line. */
  modes: string[];
  first_day: string;
  last_day: string;
  reporters: string[];
}

export const NO_MODE = '(none given)';

export function modeTimeline(observations: readonly ModeObservation[]): ModePeriod[] {
  const byDay = new Map<string, { modes: Set<string>; reporters: Set<string> }>();
  for (const o of observations) {
    let day = byDay.get(o.day);
    if (!day) byDay.set(o.day, (day = { modes: new Set(), reporters: new Set() }));
    day.modes.add(o.mode ?? NO_MODE);
    day.reporters.add(o.organization_name);
  }
  const periods: ModePeriod[] = [];
  for (const day of [...byDay.keys()].sort()) {
    const seen = byDay.get(day)!;
    const modes = [...seen.modes].sort();
    const last = periods[periods.length - 1];
    if (last && last.modes.join() === modes.join()) {
      last.last_day = day;
      last.reporters = [...new Set([...last.reporters, ...seen.reporters])].sort();
    } else {
      periods.push({ modes, first_day: day, last_day: day, reporters: [...seen.reporters].sort() });
    }
  }
  return periods;
}
