/**
 * The parsers behind the configuration table (variables.ts): each turns the text of one variable (or the
 * items of a list variable) into its typed value, or throws a ConfigError that names the variable and says
 * what to write instead. Pure: the files a variable names are read later, by the loader.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import { domainNameProblem, normaliseDomainName } from '../rules/domainName.js';
import { parseWholeNumber } from '../rules/wholeNumber.js';

/** Separators of a list written as one string (an environment variable, or a YAML scalar). */
const LIST_SEPARATORS = /[\s,;]+/;

export function splitList(text: string): string[] {
  return text.split(LIST_SEPARATORS).filter(Boolean);
}

export function wholeNumber(min: number, max: number): (text: string, name: string) => number {
  return (text, name) => {
    const r = parseWholeNumber(text, min, max);
    if (!r.ok) throw new ConfigError(name, r.problem);
    return r.value;
  };
}

/** A decimal number of seconds, hours, percent...: "2", "1.5". */
export function decimal(min: number, max: number): (text: string, name: string) => number {
  return (text, name) => {
    if (!/^\d+(\.\d+)?$/.test(text)) throw new ConfigError(name, `"${text}" is not a number (e.g. 2 or 1.5)`);
    const n = Number(text);
    if (n < min || n > max) throw new ConfigError(name, `${n} is out of range: use ${min} to ${max}`);
    return n;
  };
}

const DURATION_UNITS_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** "3d", "72h", "90m", "2w", or a bare number of days ("3", "1.5") -> milliseconds. */
export function durationDays(minMs: number, maxMs: number): (text: string, name: string) => number {
  return (text, name) => {
    const m = /^(\d+(?:\.\d+)?)\s*([mhdw]?)$/i.exec(text);
    if (!m) throw new ConfigError(name, `"${text}" is not a duration; write e.g. 3d, 72h or 90m (a bare number is days)`);
    const ms = Math.round(Number(m[1]) * DURATION_UNITS_MS[(m[2] || 'd').toLowerCase()]!);
    if (ms < minMs || ms > maxMs) {
      throw new ConfigError(name, `${text} is out of range: use ${formatDuration(minMs)} to ${formatDuration(maxMs)}`);
    }
    return ms;
  };
}

function formatDuration(ms: number): string {
  return ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${ms / 60_000}m`;
}

/** "0.5" or "0.5%" -> 0.5. */
export function percent(text: string, name: string): number {
  return decimal(0, 100)(text.replace(/%$/, ''), name);
}

export function oneOf<T extends string>(choices: readonly T[], hint = ''): (text: string, name: string) => T {
  return (text, name) => {
    const v = text.toLowerCase();
    if (!(choices as readonly string[]).includes(v)) throw new ConfigError(name, `"${text}" is not one of ${choices.join(', ')}${hint}`);
    return v as T;
  };
}

export function text(value: string): string {
  return value;
}

/** A URL with one of `protocols`; a `secret` one (it may hold a password) is shown masked in errors. */
export function url(protocols: readonly string[], example: string, secret = false): (text: string, name: string) => string {
  return (value, name) => {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new ConfigError(name, `"${secret ? maskSecretUrl(value) : value}" is not a URL; expected e.g. ${example}`);
    }
    if (!protocols.includes(u.protocol)) throw new ConfigError(name, `scheme "${u.protocol}" is not ${protocols.join(' or ')}`);
    return value;
  };
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** "10MiB", "500kB", "1048576" -> bytes. */
export function size(value: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new ConfigError(name, `"${value}" is not a size; use bytes or a unit such as 512KiB, 10MiB, 1GiB`);
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < 1024) throw new ConfigError(name, `${bytes} bytes is too small; use at least 1KiB`);
  return bytes;
}

/** Domain names (src/rules/domainName.ts), normalised, each once, in the order given. */
export function domainList(items: readonly string[], name: string): string[] {
  const out = new Set<string>();
  for (const raw of items) {
    const d = normaliseDomainName(raw);
    if (!d) continue;
    const problem = domainNameProblem(d);
    if (problem) throw new ConfigError(name, `"${raw}" is not a domain name (e.g. example.com): ${problem}`);
    out.add(d);
  }
  return [...out];
}

/**
 * "tlsrpt@example.com", "reports.example.org" -> addresses and whole domains, lower-cased, each once.
 * A leading "@" on a domain is accepted ("@example.org").
 */
export function recipientList(items: readonly string[], name: string): string[] {
  const out = new Set<string>();
  for (const raw of items) {
    const item = raw.trim().toLowerCase().replace(/^@/, '');
    if (!item) continue;
    const at = item.indexOf('@');
    const domain = normaliseDomainName(at >= 0 ? item.slice(at + 1) : item);
    const problem = at === 0 || item.indexOf('@', at + 1) !== -1 || /\s/.test(item) ? 'a bad address' : domainNameProblem(domain);
    if (problem) {
      throw new ConfigError(name, `"${raw}" is neither an address (tlsrpt@example.com) nor a domain (example.com): ${problem}`);
    }
    out.add(at >= 0 ? `${item.slice(0, at)}@${domain}` : domain);
  }
  return [...out];
}

/** METRICS_ALLOW=private: loopback, RFC 1918, link-local and IPv6 unique-local addresses. */
export const PRIVATE_RANGES = [
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
];

function addressList(items: readonly string[], name: string, keywords: string[], hint: string): string[] {
  const entries = items.map((e) => e.toLowerCase());
  for (const e of entries) {
    if (keywords.includes(e)) continue;
    const [addr, bits, extra] = e.split('/');
    const family = isIP(addr ?? '');
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (family === 0 || !bitsOk || extra !== undefined) {
      throw new ConfigError(name, `"${e}" is not an address, a CIDR range or one of ${keywords.join(', ')}; ${hint}`);
    }
  }
  return entries;
}

/** "off" | "on" (every hop) | a hop count | addresses and CIDR ranges of the proxies (or loopback, linklocal, uniquelocal). */
export function trustProxy(items: readonly string[], name: string): boolean | number | readonly string[] {
  const only = items.length === 1 ? items[0]!.toLowerCase() : null;
  if (only === null && items.length === 0) return false;
  if (only === 'off' || only === 'false' || only === 'no') return false;
  if (only === 'on' || only === 'true' || only === 'yes') return true;
  if (only !== null && /^\d+$/.test(only)) return wholeNumber(1, 100)(only, name);
  return addressList(items, name, ['loopback', 'linklocal', 'uniquelocal'], 'use e.g. 127.0.0.1, 10.0.0.0/8, or "off"');
}

/** "sender=token" entries (HTTP_REPORT_TOKENS): who a POST with `Authorization: Bearer <token>` comes from. */
export function senderTokens(items: readonly string[], name: string): ReadonlyArray<{ readonly sender: string; readonly token: string }> {
  const seen = new Set<string>();
  return items.map((item) => {
    const eq = item.indexOf('=');
    const sender = eq > 0 ? item.slice(0, eq).trim() : '';
    const token = eq > 0 ? item.slice(eq + 1).trim() : '';
    // The token is never repeated in a message: it is a credential.
    if (!sender || !/^[\x21-\x7e]{16,}$/.test(token)) {
      throw new ConfigError(
        name,
        `an entry is not sender=token with a token of 16 or more visible characters (e.g. example-mta=$(openssl rand -hex 24))`,
      );
    }
    if (seen.has(token)) throw new ConfigError(name, `two entries have the same token (one is for ${sender}): give each sender its own`);
    seen.add(token);
    return { sender, token };
  });
}

/** Addresses and CIDR ranges (HTTP_TRUSTED_CLIENTS); empty = none. */
export function addressRanges(items: readonly string[], name: string): readonly string[] {
  return addressList(items, name, [], 'use e.g. 192.0.2.7, 198.51.100.0/24, 2001:db8::/32');
}

/** "any" | "private" | addresses and CIDR ranges, which may include "private"; null lets anyone. */
export function metricsAllow(items: readonly string[], name: string): readonly string[] | null {
  if (items.length === 1 && items[0]!.toLowerCase() === 'any') return null;
  const entries = addressList(items, name, ['private'], 'use e.g. private, 10.0.0.0/8, 192.0.2.7, or "any"');
  return [...new Set(entries.flatMap((e) => (e === 'private' ? PRIVATE_RANGES : [e])))];
}

/**
 * "mailto:tlsrpt@example.com", "https://example.com/tlsrpt" -> rua URIs (RFC 8460 3). A bare address is refused
 * rather than silently prefixed: the record it would generate is the mistake that crashed a sender (sys4 #54).
 */
export function ruaList(items: readonly string[], name: string): string[] {
  return items.map((uri) => {
    if (/^mailto:[^@\s]+@[^@\s]+\.[^@\s]+$/i.test(uri)) return `mailto:${uri.slice('mailto:'.length)}`;
    if (/^https:\/\/[^\s]+$/i.test(uri)) return uri;
    const hint = uri.includes('@') && !uri.includes(':') ? ` (did you mean "mailto:${uri}"?)` : '';
    throw new ConfigError(name, `"${uri}" is not a mailto: or https: URI${hint}`);
  });
}

/** "127.0.0.1:5353", "[::1]:53", "192.0.2.1" -> the forms node:dns Resolver.setServers accepts. */
export function dnsServerList(items: readonly string[], name: string): string[] {
  return items.map((server) => {
    const m = /^\[([0-9a-f:.]+)\](?::(\d+))?$/i.exec(server) ?? /^([0-9.]+)(?::(\d+))?$/.exec(server) ?? /^([0-9a-f:]+)()$/i.exec(server);
    const ip = m?.[1] ?? '';
    const port = m?.[2] ? Number(m[2]) : 53;
    if (!m || !isIP(ip) || port < 1 || port > 65535) {
      throw new ConfigError(name, `"${server}" is not an IP address with optional port (e.g. 127.0.0.1:53 or [::1]:5353)`);
    }
    return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
  });
}

/** Webhook URLs, each once: http(s) only. The URL may carry a secret, so errors show it masked. */
export function httpUrlList(items: readonly string[], name: string): string[] {
  for (const value of items) {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new ConfigError(name, `"${maskSecretUrl(value)}" is not a URL; expected https://host/path (several separated by commas)`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ConfigError(name, `scheme "${u.protocol}" is not https: or http:`);
  }
  return [...new Set(items)];
}

export function emailAddress(value: string, name: string): string {
  if (!/^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/.test(value)) {
    throw new ConfigError(name, `"${value}" is not a plain e-mail address such as tlsrpt@example.com`);
  }
  return value;
}

export function emailAddressList(items: readonly string[], name: string): string[] {
  return items.map((a) => emailAddress(a, name));
}

/** A URL as it may be printed: the password masked. */
export function maskUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable)';
  }
}

/**
 * A URL as it may be shown: password masked, query dropped, and the path cut after its first segment,
 * because webhook URLs (Slack's /services/T.../B.../secret) carry the credential in the path.
 */
export function maskSecretUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = '***';
    const [first, ...rest] = u.pathname.split('/').filter(Boolean);
    const path = first === undefined ? '' : `/${first}${rest.length ? '/***' : ''}`;
    return `${u.protocol}//${u.username ? `${u.username}${u.password ? ':***' : ''}@` : ''}${u.host}${path}${u.search ? '?***' : ''}`;
  } catch {
    return '(unparseable)';
  }
}
