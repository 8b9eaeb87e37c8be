/**
 * Host names as MTA-STS compares them: lower case, no trailing dot (RFC 8461 4.1 matching is on DNS names,
 * which are case-insensitive), and the RFC 5321 4.1.2 "Domain" syntax that mx patterns must follow. Both are
 * the project's one domain-name rule (src/rules/domainName.ts); these names stay for the policy code.
 */
import { domainNameProblem, normaliseDomainName } from '../../rules/domainName.js';

export function normaliseHostName(name: string): string {
  return normaliseDomainName(name);
}

/** Why `name` is not an RFC 5321 Domain of LDH labels, or null when it is one. A single label is a host name. */
export function hostNameProblem(name: string): string | null {
  return domainNameProblem(name, { singleLabel: true });
}
