/**
 * The one table of cases for the sessions that count when a report lists one domain under several policy
 * types: run through countedSessions() (src/rules/countedSessions.ts) and through the SQL views that every
 * total reads (report_domain_sessions, daily_domain_stats: migrations/definitions/) by
 * test/rules/countedSessions.test.ts.
 */
import type { CountedSessions, PolicySessions } from '../../src/rules/countedSessions.js';

export interface CountedSessionsCase {
  name: string;
  /** The policies of one report for one domain, in report order. */
  policies: PolicySessions[];
  counted: CountedSessions;
}

const p = (policyType: string, successfulSessions: number, failedSessions: number): PolicySessions => ({
  policyType,
  successfulSessions,
  failedSessions,
});

export const COUNTED_SESSIONS_CASES: CountedSessionsCase[] = [
  {
    // Project issue 12: the alert said 100 ok / 10 failed (9.09 %), taking the largest of each count.
    name: 'tlsa {100, 0} and sts {90, 10}: a tie on 100 sessions, sts counts: 10 %',
    policies: [p('tlsa', 100, 0), p('sts', 90, 10)],
    counted: p('sts', 90, 10),
  },
  { name: 'the type with more sessions counts', policies: [p('tlsa', 10, 0), p('sts', 8, 0)], counted: p('tlsa', 10, 0) },
  { name: 'more sessions wins over fewer failures', policies: [p('sts', 100, 0), p('tlsa', 50, 60)], counted: p('tlsa', 50, 60) },
  { name: 'the same sessions under both types (quirk 5)', policies: [p('tlsa', 100, 2), p('sts', 100, 2)], counted: p('sts', 100, 2) },
  { name: 'one type only', policies: [p('sts', 990, 10)], counted: p('sts', 990, 10) },
  { name: 'two policies of one type add up', policies: [p('sts', 50, 0), p('tlsa', 80, 0), p('sts', 40, 10)], counted: p('sts', 90, 10) },
  { name: 'on a tie tlsa before no-policy-found', policies: [p('no-policy-found', 10, 0), p('tlsa', 5, 5)], counted: p('tlsa', 5, 5) },
  {
    name: 'on a tie no-policy-found before another type',
    policies: [p('x-other', 3, 0), p('no-policy-found', 3, 0)],
    counted: p('no-policy-found', 3, 0),
  },
  { name: 'on a tie between other types, alphabetical', policies: [p('x-zeta', 2, 0), p('x-alpha', 1, 1)], counted: p('x-alpha', 1, 1) },
  { name: 'no sessions at all: sts', policies: [p('tlsa', 0, 0), p('sts', 0, 0)], counted: p('sts', 0, 0) },
];
