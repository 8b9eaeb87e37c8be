/**
 * "Is this a domain name?": the one check behind every place that takes one (policy domains in reports, the
 * configuration's domain lists, recipients, command arguments, mx hosts). RFC 5321 4.1.2 "Domain": labels of
 * letters, digits and "-" (LDH, RFC 1123 2.1), none empty, none starting or ending with "-", at most 63
 * characters each and 253 in all. Internationalised names are written as A-labels (xn--...).
 */

/** Lower case, surrounding space and one trailing dot removed: how domain names are compared and stored. */
export function normaliseDomainName(raw: string): string {
  return raw.trim().toLowerCase().replace(/\.$/, '');
}

export interface DomainNameRules {
  /** Accept a name of one label ("localhost"): true for host names, false (the default) for domains. */
  singleLabel?: boolean;
}

/** Why `name` (already normalised) is not a domain name, or null when it is one. */
export function domainNameProblem(name: string, rules: DomainNameRules = {}): string | null {
  if (name === '') return 'it is empty';
  if (/[^\x20-\x7e]/.test(name)) return 'it contains non-ASCII or control characters (write internationalised names as A-labels, xn--...)';
  if (name.endsWith('.')) return 'it ends with a dot';
  if (name.length > 253) return 'it is longer than 253 characters';
  if (/^\d+(\.\d+){3}$/.test(name) || name.includes(':')) return 'it is an IP address or has a port, not a domain name';
  const labels = name.split('.');
  for (const label of labels) {
    if (label === '') return 'it has an empty label (two dots in a row or a leading dot)';
    if (label.length > 63) return `the label "${label.slice(0, 20)}..." is longer than 63 characters`;
    if (!/^[A-Za-z0-9-]+$/.test(label)) return `the label "${label}" has characters other than letters, digits and "-"`;
    if (label.startsWith('-') || label.endsWith('-')) return `the label "${label}" starts or ends with "-"`;
  }
  if (labels.length < 2 && !rules.singleLabel) return 'it has a single label; a domain name has at least two (e.g. example.com)';
  return null;
}

export function isDomainName(name: string, rules: DomainNameRules = {}): boolean {
  return domainNameProblem(name, rules) === null;
}
