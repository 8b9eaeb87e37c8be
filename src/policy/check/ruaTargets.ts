/**
 * Is this deployment among a domain's rua targets, and first? Microsoft delivers reports only to the first
 * rua URI (real-world quirk 22), so "listed second" is a warning, not a pass.
 */
import { normaliseHostName } from '../syntax/hostName.js';

export interface OurAddresses {
  /** TLSRPT_RUA: the URIs this deployment tells domains to publish. */
  rua: readonly string[];
  /** ACCEPTED_RECIPIENTS: addresses and whole domains the SMTP receiver takes mail for (empty = any). */
  acceptedRecipients: readonly string[];
}

export type RuaPosition =
  | { status: 'first'; uri: string }
  | { status: 'listed'; uri: string; position: number; first: string }
  | { status: 'absent' }
  | { status: 'unknown' };

export function findOurRua(published: readonly string[], ours: OurAddresses): RuaPosition {
  if (!ours.rua.length && !ours.acceptedRecipients.length) return { status: 'unknown' };
  const index = published.findIndex((uri) => isOurs(uri, ours));
  if (index < 0) return { status: 'absent' };
  if (index === 0) return { status: 'first', uri: published[0]! };
  return { status: 'listed', uri: published[index]!, position: index + 1, first: published[0]! };
}

export function isOurs(uri: string, ours: OurAddresses): boolean {
  const key = ruaKey(uri);
  if (key === null) return false;
  if (ours.rua.some((u) => ruaKey(u) === key)) return true;
  if (!key.startsWith('mailto:')) return false;
  // Match the address as written and without its +tag: a sub-addressed rua reaches the base mailbox
  // (real-world quirk 29).
  const address = key.slice('mailto:'.length);
  const at = address.lastIndexOf('@');
  const domain = address.slice(at + 1);
  const base = address.slice(0, at).replace(/\+.*$/, '') + '@' + domain;
  return ours.acceptedRecipients.some((r) => (r.includes('@') ? r === address || r === base : r === domain));
}

/** mailto: URIs compare by address (case-insensitive domain and, in practice, local part); https: as URLs. */
function ruaKey(uri: string): string | null {
  const m = /^mailto:([^?]*)/i.exec(uri.trim());
  if (m) {
    let address: string;
    try {
      address = decodeURIComponent(m[1]!);
    } catch {
      address = m[1]!;
    }
    const at = address.lastIndexOf('@');
    if (at < 1) return null;
    return `mailto:${address.slice(0, at).toLowerCase()}@${normaliseHostName(address.slice(at + 1))}`;
  }
  try {
    const u = new URL(uri.trim());
    return u.protocol === 'https:' ? u.toString() : null;
  } catch {
    return null;
  }
}
