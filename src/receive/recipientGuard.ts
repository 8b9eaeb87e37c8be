/**
 * An SMTP receiver reachable from other hosts with no ACCEPTED_RECIPIENTS would take mail for any address
 * that points its MX here: every spammer's list would be committed to PostgreSQL. A receiver on loopback only
 * (the Quick start, a local relay in front) cannot be reached that way, and an administrator whose relay
 * filters recipients says so with SMTP_ACCEPT_ANY_RECIPIENT=on.
 */
import type { Config } from '../config/loadConfig.js';
import { ConfigError } from '../errors.js';
import { isLoopbackHost } from '../util/loopbackHost.js';

/** Throws a ConfigError (exit status 2) that says which variable to set, when the receiver would be open to all. */
export function checkRecipientGuard(config: Config): void {
  const { host, acceptedRecipients, acceptAnyRecipient } = config.smtp;
  if (acceptedRecipients.length > 0 || acceptAnyRecipient || isLoopbackHost(host)) return;
  throw new ConfigError(
    'ACCEPTED_RECIPIENTS',
    `is empty and the SMTP receiver would listen on ${host} (SMTP_HOST), so it would accept mail for any address from ` +
      'anyone who reaches it. Set ACCEPTED_RECIPIENTS to your rua= address (e.g. tlsrpt@reports.example.com), or ' +
      'SMTP_HOST=127.0.0.1 to listen on loopback only, or SMTP_ACCEPT_ANY_RECIPIENT=on if a relay in front of this ' +
      'receiver already refuses other recipients',
  );
}
