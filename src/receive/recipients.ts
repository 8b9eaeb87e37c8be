/**
 * Is `address` one of ACCEPTED_RECIPIENTS? Entries are whole addresses or whole domains (exact match, no
 * subdomains). Sub-addresses match both as written and with the "+tag" removed (quirk 29:
 * postmaster+tls-report@example.com reaches an entry postmaster@example.com). An empty list accepts all.
 */
export function isAcceptedRecipient(address: string, accepted: readonly string[]): boolean {
  if (accepted.length === 0) return true;
  const addr = address.trim().toLowerCase();
  const at = addr.lastIndexOf('@');
  if (at <= 0) return false;
  const local = addr.slice(0, at);
  const domain = addr.slice(at + 1).replace(/\.$/, '');
  const plus = local.indexOf('+');
  const base = plus > 0 ? `${local.slice(0, plus)}@${domain}` : null;
  return accepted.some((entry) => entry === `${local}@${domain}` || entry === base || entry === domain);
}
