/**
 * The authentication step of the worker (and of `tlsrpt ingest` and `tlsrpt reprocess`): the I/O between
 * decoding a report and storing it. Mail (SMTP, IMAP, ingest) is DKIM-verified (./verifyDkim.ts); a POST to
 * the HTTPS endpoint cannot carry DKIM (RFC 8460 5.4) and is trusted when it bore a sender's token
 * (HTTP_REPORT_TOKENS, checked by the HTTP server, src/auth/tokenSender.ts) or its client address is listed in
 * HTTP_TRUSTED_CLIENTS. What it finds is stored with the message and its report; whether an unauthenticated
 * mail is stored or quarantined is REPORT_AUTHENTICATION's choice (README "Authentication (DKIM)").
 */
import { allowedAddresses } from '../http/allowedAddresses.js';
import { ReportInputError, TlsrptError, markServiceOutage } from '../errors.js';
import type { Channel } from '../store/rawMessages.js';
import { createDkimResolver } from './dkimResolver.js';
import { describeAuthentication, fileAuthentication, httpsAuthentication, verifyDkim, type MessageAuthentication } from './verifyDkim.js';

export type AuthenticationMode = 'record' | 'require';

export interface AuthenticationSettings {
  /** record: store every report with what was found; require: quarantine mail that is not authenticated. */
  mode: AuthenticationMode;
  /** Resolvers for the DKIM key lookups (DNS_SERVERS); empty = the system resolver. */
  dnsServers: readonly string[];
  /** Time limit of one DNS query attempt. */
  dnsTimeoutMs: number;
  /** How long a key record (or its absence) is cached. */
  dnsCacheMs: number;
  /**
   * How long after a mail was received a failed key lookup (temperror) is still retried; after that the
   * mail is settled with temperror, so a sender whose DNS stays broken does not leave its reports pending.
   */
  temperrorRetryMs: number;
  /** Client addresses and CIDR ranges whose HTTPS reports are trusted (HTTP_TRUSTED_CLIENTS). */
  httpTrustedClients: readonly string[];
}

export interface MessageToAuthenticate {
  channel: Channel;
  raw: Buffer;
  remoteAddress?: string | null;
  /** When it was received (raw_messages.received_at); absent: now. */
  receivedAt?: Date;
  /** What the intake recorded: an HTTPS POST's sender token (HTTP_REPORT_TOKENS). */
  authentication?: MessageAuthentication | null;
  /** A bare report, not a mail (decodeMessage's bareBody): an HTTPS POST body or a backfilled .json file. */
  bareBody?: boolean;
}

export interface Authenticator {
  readonly mode: AuthenticationMode;
  /** What the message proves about its sender; throws DkimLookupError (a service outage) on a DNS failure. */
  authenticate(message: MessageToAuthenticate): Promise<MessageAuthentication>;
}

/**
 * The key lookups failed (timeout, SERVFAIL, no resolver reachable) and no signature passed without them: the
 * result would be `temperror`, which says nothing about the sender. Marked as a service outage, so the message
 * stays pending and is retried later, never quarantined or stored unauthenticated for it.
 */
export class DkimLookupError extends TlsrptError {
  override readonly name = 'DkimLookupError';
  constructor(readonly authentication: MessageAuthentication) {
    super(
      'dkim-temperror',
      `DKIM keys could not be looked up (${describeAuthentication(authentication)}): check DNS_SERVERS and that the resolver answers; the message is retried`,
    );
    markServiceOutage(this);
  }
}

export function createAuthenticator(settings: AuthenticationSettings): Authenticator {
  const resolver = createDkimResolver({
    servers: settings.dnsServers,
    timeoutMs: settings.dnsTimeoutMs,
    cacheTtlMs: settings.dnsCacheMs,
  });
  const trusted = settings.httpTrustedClients.length ? allowedAddresses(settings.httpTrustedClients) : () => false;
  return {
    mode: settings.mode,
    async authenticate(message) {
      if (message.channel === 'http') {
        // A sender's token, checked by the HTTP server when the POST arrived, or the client's address.
        if (message.authentication?.method === 'https' && message.authentication.authenticated) return message.authentication;
        const address = message.remoteAddress ?? null;
        return httpsAuthentication(address !== null && trusted(address) ? `trusted client ${address}` : null);
      }
      // Only a backfilled file: a bare body that came over SMTP is a mail without headers, and is verified (to
      // `none`), so that it cannot slip past REPORT_AUTHENTICATION=require.
      if (message.bareBody && message.channel === 'ingest') return fileAuthentication();
      const found = await verifyDkim(message.raw, resolver);
      if (!found.authenticated && found.result === 'temperror') {
        const age = Date.now() - (message.receivedAt?.getTime() ?? Date.now());
        // Retried while young; then settled with temperror: stored unauthenticated (record), or quarantined as
        // not-authenticated (require) for a reprocess once the sender's DNS answers.
        if (age < settings.temperrorRetryMs) throw new DkimLookupError(found);
      }
      return found;
    },
  };
}

/**
 * The decision of REPORT_AUTHENTICATION=require: a mail that is not authenticated is quarantined as
 * not-authenticated, with what was found. HTTPS reports and backfilled report files are not mail: they are
 * stored, counted as authenticated only when trusted (HTTPS) or never (files).
 */
export function requireAuthentication(mode: AuthenticationMode, found: MessageAuthentication): void {
  if (mode !== 'require' || found.authenticated || found.method !== 'dkim') return;
  throw new ReportInputError('not-authenticated', describeAuthentication(found));
}
