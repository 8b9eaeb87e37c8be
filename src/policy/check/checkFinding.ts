/**
 * One line of `tlsrpt check`: a named check (stable kebab-case, README "MTA-STS"), pass / warn / fail, what
 * was found, and for warn and fail what to do about it.
 */
export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckFinding {
  check: string;
  status: CheckStatus;
  summary: string;
  fix?: string;
  /** Further lines: each record or policy problem, each reporter, each uncovered MX. */
  details?: string[];
}

export function worstStatus(findings: readonly CheckFinding[]): CheckStatus {
  if (findings.some((f) => f.status === 'fail')) return 'fail';
  if (findings.some((f) => f.status === 'warn')) return 'warn';
  return 'pass';
}
