/**
 * Limits that keep one client address from holding the SMTP receiver (issue 15 finding 3: 500 connections
 * from one address sending NOOP every 20 s got every other sender "421 Too many connected clients"):
 *
 * - connections per client address (SMTP_MAX_CONNECTIONS_PER_CLIENT), counted on the TCP socket before
 *   smtp-server sees it, so a refused connection never takes one of the SMTP_MAX_CONNECTIONS slots: the rest
 *   stay for other addresses;
 * - session length (SMTP_MAX_SESSION_SECONDS): after it, the session is answered 421 and closed once no
 *   message is being received (a message in progress finishes first);
 * - commands without a mail transaction (SMTP_MAX_COMMANDS_WITHOUT_MAIL): NOOP, RSET, HELP, VRFY, EHLO ...
 *   counted since the last MAIL FROM; past the limit, 421 and close. smtp-server has no hook per command:
 *   this wraps the connection's command dispatch (`_onCommand`, smtp-server 3.x), and logs once if the
 *   library no longer has it, rather than failing to start.
 *
 * 421 is the RFC 5321 4.2.2 / 3.8 reply for "closing the transmission channel": a real MTA tries again later.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import type { SMTPServer } from 'smtp-server';
import { onSmtpConnection } from './smtpConnections.js';

export interface SmtpSessionLimits {
  /** 0: no limit. */
  maxConnectionsPerClient: number;
  /** 0: no limit. */
  maxSessionMs: number;
  /** 0: no limit. */
  maxCommandsWithoutMail: number;
}

/** Which connections an address holds now: a pure counter the listener consults. */
export function createAddressCounter(limit: number): {
  take(address: string): boolean;
  release(address: string): void;
  held(address: string): number;
} {
  const counts = new Map<string, number>();
  return {
    take(address) {
      const n = counts.get(address) ?? 0;
      if (limit > 0 && n >= limit) return false;
      counts.set(address, n + 1);
      return true;
    },
    release(address) {
      const n = (counts.get(address) ?? 1) - 1;
      if (n <= 0) counts.delete(address);
      else counts.set(address, n);
    },
    held: (address) => counts.get(address) ?? 0,
  };
}

export function applySmtpSessionLimits(server: SMTPServer, limits: SmtpSessionLimits, serverName: string, log: Logger): void {
  limitConnectionsPerClient(server, limits.maxConnectionsPerClient, serverName, log);
  limitSessions(server, limits, log);
}

function limitConnectionsPerClient(server: SMTPServer, limit: number, serverName: string, log: Logger): void {
  if (limit <= 0) return;
  const tcp = server.server;
  const counter = createAddressCounter(limit);
  const handlers = tcp.listeners('connection') as Array<(socket: net.Socket) => void>;
  tcp.removeAllListeners('connection');
  let refusedLogged = 0;
  tcp.on('connection', (socket: net.Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    if (!counter.take(address)) {
      // Once a minute at most: an address hammering us must not flood the log either.
      if (Date.now() - refusedLogged > 60_000) {
        refusedLogged = Date.now();
        log.warn(
          { remote: address, limit },
          'SMTP connection refused: too many connections from this address (SMTP_MAX_CONNECTIONS_PER_CLIENT)',
        );
      }
      socket.on('error', () => socket.destroy()); // the client may already be gone; nothing to tell it
      socket.end(`421 4.7.0 ${serverName} Too many connections from your address, try again later\r\n`);
      socket.setTimeout(5000, () => socket.destroy());
      return;
    }
    socket.once('close', () => counter.release(address));
    for (const handler of handlers) handler.call(tcp, socket);
  });
}

function limitSessions(server: SMTPServer, limits: SmtpSessionLimits, log: Logger): void {
  if (limits.maxSessionMs <= 0 && limits.maxCommandsWithoutMail <= 0) return;
  let unsupportedLogged = false;
  const hooked = onSmtpConnection(server, (connection, socket) => {
    const closeWith = (text: string) => {
      if (connection._closing || connection._closed) return;
      connection.send(421, text);
      connection.close();
    };

    if (limits.maxSessionMs > 0) {
      let timer: NodeJS.Timeout;
      const check = () => {
        // A message being received is let finish: checked again a second later.
        if (connection._dataStream) timer = setTimeout(check, 1000).unref();
        else closeWith('4.4.2 Session too long (SMTP_MAX_SESSION_SECONDS), closing; reconnect to continue');
      };
      timer = setTimeout(check, limits.maxSessionMs).unref();
      socket.once('close', () => clearTimeout(timer));
    }

    if (limits.maxCommandsWithoutMail > 0) {
      const onCommand = connection._onCommand;
      if (typeof onCommand !== 'function') {
        if (!unsupportedLogged) log.warn('SMTP_MAX_COMMANDS_WITHOUT_MAIL not applied: this smtp-server version has no _onCommand');
        unsupportedLogged = true;
        return;
      }
      let withoutMail = 0;
      connection._onCommand = function (command: Buffer, callback?: () => void) {
        const name = command.toString('latin1', 0, 5).trim().toUpperCase();
        if (name === 'MAIL') withoutMail = 0;
        else if (!['RCPT', 'DATA', 'BDAT'].includes(name) && ++withoutMail > limits.maxCommandsWithoutMail) {
          closeWith('4.7.0 Too many commands without a message (SMTP_MAX_COMMANDS_WITHOUT_MAIL), closing');
          return;
        }
        onCommand.call(this, command, callback);
      };
    }
  });
  if (!hooked) log.warn('SMTP session limits not applied: this smtp-server version has no connect() or connections set');
}
