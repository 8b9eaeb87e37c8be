/**
 * Whether a host name or address reaches only this machine: what lets an IMAP connection skip STARTTLS and an
 * SMTP receiver run without ACCEPTED_RECIPIENTS (nobody else can reach either).
 */
import { isIP } from 'node:net';

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}
