/**
 * What the policy and record validators report. A problem has a stable kebab-case code (the same word in the
 * CLI output, the JSON output and README "MTA-STS"), a message that names the offending text, and a fix.
 * An `error` makes senders ignore or reject the policy or record; a `warning` works but is risky or unusual.
 */
export type Severity = 'error' | 'warning';

export interface Problem {
  severity: Severity;
  code: string;
  /** 1-based line of a policy file; absent for DNS records and whole-file problems. */
  line?: number;
  message: string;
  fix: string;
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}
