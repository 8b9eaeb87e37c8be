/**
 * Host names as MTA-STS compares them: lower case, no trailing dot (RFC 8461 4.1 matching is on DNS names,
 * which are case-insensitive), and the RFC 5321 4.1.2 "Domain" syntax that mx patterns must follow.
 */
export function normaliseHostName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** Why `name` is not an RFC 5321 Domain of LDH labels, or null when it is one. */
export function hostNameProblem(name: string): string | null {
  if (name === '') return 'it is empty';
  if (/[^\p{ASCII}]/u.test(name)) return 'it contains non-ASCII characters (write internationalised names as A-labels, xn--...)';
  if (name.endsWith('.')) return 'it ends with a dot';
  if (name.length > 253) return 'it is longer than 253 characters';
  if (/^\d+(\.\d+){3}$/.test(name) || name.includes(':')) return 'it is an IP address or has a port, not a host name';
  for (const label of name.split('.')) {
    if (label === '') return 'it has an empty label (two dots in a row or a leading dot)';
    if (label.length > 63) return `the label "${label.slice(0, 20)}..." is longer than 63 characters`;
    if (!/^[A-Za-z0-9-]+$/.test(label)) return `the label "${label}" has characters other than letters, digits and "-"`;
    if (label.startsWith('-') || label.endsWith('-')) return `the label "${label}" starts or ends with "-"`;
  }
  return null;
}
