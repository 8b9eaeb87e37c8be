/**
 * Keeps reading one mailbox: connect (imaps://, or imap:// with STARTTLS), pass over the folder
 * (pullMailbox), then wait for news (IDLE where the server offers it: imapflow idles between commands and
 * reports new messages as `exists`; otherwise the poll timer, IMAP_POLL_SECONDS, which also bounds a wait
 * under IDLE), and pass again. A lost connection or a restarted server is retried with exponential backoff;
 * a refused login too, but starting from minutes, because it will not fix itself and a tight loop would look
 * like an attack to the provider (Gmail locks accounts that fail too often).
 */
import { rootCertificates } from 'node:tls';
import { ImapFlow } from 'imapflow';
import type { ImapConfig } from '../config/loadConfig.js';
import { ConfigError, TlsrptError, errorMessage } from '../errors.js';
import { isLoopbackHost } from '../util/loopbackHost.js';
import type { MailboxUrl } from './mailboxUrl.js';
import type { OAuth2TokenSource } from './oauth2Token.js';
import { newPosition, pullMailbox, type MailboxPosition, type PullDeps, type PullSummary } from './pullMailbox.js';

export interface ReaderTiming {
  /** First delay after a lost connection; doubles up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** First delay after a refused login; doubles up to maxAuthBackoffMs. */
  authBackoffMs: number;
  maxAuthBackoffMs: number;
}

export const DEFAULT_TIMING: ReaderTiming = {
  backoffMs: 1000,
  maxBackoffMs: 5 * 60_000,
  authBackoffMs: 5 * 60_000,
  maxAuthBackoffMs: 60 * 60_000,
};

/** The wait before the next attempt, after `previous` ms: doubled, from the first delay, up to the ceiling. */
export function nextDelay(timing: ReaderTiming, previous: number, refused: boolean): number {
  const [first, max] = refused ? [timing.authBackoffMs, timing.maxAuthBackoffMs] : [timing.backoffMs, timing.maxBackoffMs];
  return Math.min(Math.max(previous * 2, first), max);
}

export interface ReaderDeps extends PullDeps {
  imap: Pick<ImapConfig, 'pollMs' | 'extraCa'>;
  tokens: OAuth2TokenSource | null;
  timing?: ReaderTiming;
  /** After each pass (metrics, tests). */
  onPass?: (summary: PullSummary) => void;
}

/** The login was refused: a wrong password or a revoked token. Exit status 2 for `tlsrpt imap --once`. */
export function loginRefused(mailbox: MailboxUrl, err: unknown): ConfigError {
  return new ConfigError(
    'IMAP_URL',
    `${mailbox.label}: the server refused the login (${errorMessage(err)}). ` +
      (mailbox.password === null
        ? 'Check that the OAuth2 token is for this user and has the IMAP scope (README "Reading reports from a mailbox (IMAP)").'
        : 'Check the user and the password (percent-encoded in IMAP_URL); Gmail and Microsoft 365 need an app password or OAuth2.'),
    { cause: err },
  );
}

function isAuthFailure(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { authenticationFailed?: unknown }).authenticationFailed === true;
}

export async function connectMailbox(deps: Pick<ReaderDeps, 'imap' | 'tokens' | 'log'>, mailbox: MailboxUrl): Promise<ImapFlow> {
  const auth =
    mailbox.password !== null
      ? { user: mailbox.user, pass: mailbox.password }
      : { user: mailbox.user, accessToken: await deps.tokens!.token() };
  const client = new ImapFlow({
    host: mailbox.host,
    port: mailbox.port,
    secure: mailbox.secure,
    // Required off loopback (mailboxUrl.ts); on loopback used when offered.
    doSTARTTLS: mailbox.requireStartTls ? true : undefined,
    auth,
    logger: false,
    tls: {
      ...(deps.imap.extraCa ? { ca: [...rootCertificates, deps.imap.extraCa.pem.toString()] } : {}),
      // On loopback the connection never leaves the machine, so STARTTLS there is opportunistic and its
      // certificate (often a distribution's snakeoil one) is not checked; everywhere else it is.
      rejectUnauthorized: !isLoopbackHost(mailbox.host),
    },
    maxIdleTime: deps.imap.pollMs,
    // IDLE within a second of the last command, so new mail is announced at once rather than after 15 s.
    autoIdleDelay: 1000,
    missingIdleCommand: 'NOOP',
    connectionTimeout: 30_000,
  });
  // imapflow emits 'error' for a broken connection after connect(); the reader sees it as 'close' and reconnects.
  client.on('error', (err: unknown) => deps.log.warn({ mailbox: mailbox.label, err: errorMessage(err) }, 'IMAP connection error'));
  try {
    await client.connect();
  } catch (err) {
    client.close();
    if (isAuthFailure(err)) {
      if (mailbox.password === null) deps.tokens?.invalidate();
      throw loginRefused(mailbox, err);
    }
    throw err;
  }
  return client;
}

/** `tlsrpt imap --once`: one pass over the mailbox, then log out. A refused login throws loginRefused(). */
export async function pullOnce(deps: ReaderDeps, mailbox: MailboxUrl): Promise<PullSummary> {
  const client = await connectMailbox(deps, mailbox);
  try {
    return await pullMailbox(deps, client, mailbox, newPosition());
  } finally {
    await client
      .logout()
      .catch((err: unknown) => deps.log.debug({ err: errorMessage(err) }, 'IMAP logout failed; the connection is closed anyway'));
  }
}

export interface MailboxReader {
  /** Stops waiting, ends the pass after the batch in progress (committed and settled), logs out. */
  stop(): Promise<void>;
}

export function startMailboxReader(deps: ReaderDeps, mailbox: MailboxUrl): MailboxReader {
  const timing = deps.timing ?? DEFAULT_TIMING;
  const log = deps.log.child({ mailbox: mailbox.label });
  const position: MailboxPosition = newPosition();
  let stopped = false;
  const passDeps: ReaderDeps = { ...deps, stopping: () => stopped };
  let client: ImapFlow | null = null;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });

  /** One connection, from connect to close or stop; returns how many passes it completed. */
  const session = async (): Promise<number> => {
    let passes = 0;
    const c = await connectMailbox(deps, mailbox);
    client = c;
    // Set by the connection's events while a pass runs or the reader waits.
    const heard = { closed: false, news: false };
    c.on('close', () => {
      heard.closed = true;
      wake?.();
    });
    c.on('exists', () => {
      heard.news = true;
      wake?.();
    });
    await c.mailboxOpen(mailbox.folder);
    log.info(
      { idle: c.capabilities.has('IDLE') },
      c.capabilities.has('IDLE') ? 'reading the mailbox; waiting with IDLE' : 'reading the mailbox; polling',
    );
    while (!stopped && !heard.closed) {
      heard.news = false;
      const summary = await pullMailbox(passDeps, c, mailbox, position);
      passes++;
      if (summary.examined) log.info(summary, 'mailbox pass');
      deps.onPass?.(summary);
      if (!heard.news && !summary.incomplete && !stopped && !heard.closed) await sleep(deps.imap.pollMs);
    }
    if (!heard.closed) await c.logout();
    return passes;
  };

  const loop = async (): Promise<void> => {
    let delay = 0;
    while (!stopped) {
      try {
        const passes = await session();
        // A connection that did some work is retried at once; one closed before its first pass (a server
        // that accepts and hangs up) backs off like a failure, so it cannot become a tight loop.
        delay = passes > 0 ? 0 : nextDelay(timing, delay, false);
        if (!stopped) log.warn({ retryInMs: delay }, 'the IMAP server closed the connection; reconnecting');
      } catch (err) {
        if (stopped) break;
        const refused = err instanceof ConfigError;
        delay = nextDelay(timing, delay, refused);
        log.error(
          { err: errorMessage(err), code: err instanceof TlsrptError ? err.code : undefined, retryInMs: delay },
          refused ? 'IMAP login refused; trying again later' : 'mailbox reading failed; reconnecting',
        );
      } finally {
        const c: ImapFlow | null = client;
        client = null;
        if (c && c.usable) c.close();
      }
      if (!stopped && delay) await sleep(delay);
    }
  };
  const running = loop();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await running;
    },
  };
}
