/**
 * A list as it may be printed or logged: whole when short, otherwise its size and first entries
 * ("10000 entries: a.example, b.example, ... and 9998 more"), so a 10,000-domain MTA_STS_DOMAINS makes a
 * readable `tlsrpt config` and a start-up log line of a few hundred bytes, not 230 KB.
 */

/** Lists up to this many entries are shown whole. */
export const WHOLE_LIST_MAX = 10;
/** Entries shown before "... and N more". */
const SHOWN = 2;

export function summariseList(items: readonly string[]): string {
  if (items.length <= WHOLE_LIST_MAX) return items.join(', ');
  return `${items.length} entries: ${items.slice(0, SHOWN).join(', ')}, ... and ${items.length - SHOWN} more`;
}
