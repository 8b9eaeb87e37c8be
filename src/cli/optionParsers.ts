/**
 * Parsers of option and argument values shared by the commands. Each throws commander's
 * InvalidArgumentError, which the CLI reports as a usage error (exit status 2) naming the option.
 */
import { InvalidArgumentError } from 'commander';
import { domainNameProblem, normaliseDomainName } from '../rules/domainName.js';
import { parseWholeNumber } from '../rules/wholeNumber.js';

/** A whole number from `min` to `max` (src/rules/wholeNumber.ts). */
export function wholeNumber(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = parseWholeNumber(value, min, max);
    if (!n.ok) throw new InvalidArgumentError(n.problem);
    return n.value;
  };
}

/** A domain name, normalised (src/rules/domainName.ts). */
export function domainName(value: string): string {
  const domain = normaliseDomainName(value);
  const problem = domainNameProblem(domain);
  if (problem) throw new InvalidArgumentError(`"${value}" is not a domain name: ${problem}`);
  return domain;
}

/** For a repeatable --domain: every value given, each a normalised domain name. */
export function collectDomain(value: string, previous: string[] = []): string[] {
  return [...previous, domainName(value)];
}

/** YYYY-MM-DD, a real calendar day. */
export function parseDay(value: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!d || d.toISOString().slice(0, 10) !== value) throw new InvalidArgumentError(`"${value}" is not a day in the form YYYY-MM-DD`);
  return value;
}
