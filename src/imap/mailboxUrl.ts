/**
 * IMAP_URL -> the mailbox to read: `imap://USER:PASSWORD@HOST:PORT/FOLDER` (STARTTLS) or `imaps://...` (TLS
 * from the first byte, port 993 by default). USER and PASSWORD are percent-encoded (`tls-reports%40example.com`);
 * the folder is the path (percent-encoded too, `/` separates levels as most servers write them), INBOX when
 * there is none. Without a password the login is OAuth2 XOAUTH2 (IMAP_OAUTH2_* variables).
 *
 * On `imap://` STARTTLS is used when the server offers it, and required unless the host is loopback, so a
 * password never crosses a network in the clear (RFC 8314 section 4.1 would have TLS everywhere; a loopback
 * server, a stunnel or a local test server is the one exception that keeps working).
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import { isDomainName } from '../rules/domainName.js';
import { isLoopbackHost } from '../util/loopbackHost.js';

export interface MailboxUrl {
  /** What the mailbox is called in logs and in raw_messages.source_mailbox: the URL without the password. */
  readonly label: string;
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (imaps://). */
  readonly secure: boolean;
  /** imap:// only: refuse a server that does not offer STARTTLS (always, except on loopback). */
  readonly requireStartTls: boolean;
  readonly user: string;
  /** null: log in with XOAUTH2. */
  readonly password: string | null;
  readonly folder: string;
}

const EXAMPLE = 'imaps://tls-reports%40example.com:APP-PASSWORD@imap.gmail.com/INBOX';

export function parseMailboxUrl(value: string, name: string): MailboxUrl {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(name, `"${maskMailboxUrl(value)}" is not a URL; write it like ${EXAMPLE}`);
  }
  if (u.protocol !== 'imap:' && u.protocol !== 'imaps:') {
    throw new ConfigError(name, `"${u.protocol}" is not imap: or imaps:; write it like ${EXAMPLE}`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!host || (isIP(host) === 0 && !isDomainName(host) && host !== 'localhost')) {
    throw new ConfigError(name, `"${u.hostname}" is not a host name or address; write it like ${EXAMPLE}`);
  }
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new ConfigError(name, `the ${what} is not correctly percent-encoded (write "@" as %40, ":" as %3A, "%" as %25)`);
    }
  };
  const user = decode(u.username, 'user');
  if (!user) throw new ConfigError(name, `names no user; write it like ${EXAMPLE}`);
  const password = u.password ? decode(u.password, 'password') : null;
  const folder = decode(u.pathname.replace(/^\//, ''), 'folder') || 'INBOX';
  const secure = u.protocol === 'imaps:';
  const port = u.port ? Number(u.port) : secure ? 993 : 143;
  const label = `${u.protocol}//${encodeURIComponent(user)}@${u.host}/${folder}`;
  return { label, host, port, secure, requireStartTls: !secure && !isLoopbackHost(host), user, password, folder };
}

/** The URL with its password replaced, for error messages about a value that may not even parse. */
export function maskMailboxUrl(value: string): string {
  return value.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}
