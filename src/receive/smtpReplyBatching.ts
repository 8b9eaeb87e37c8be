/**
 * The replies written to one connection in one turn of the event loop leave in one write. A sender that
 * pipelines MAIL, RCPT and DATA (RFC 2920, as MTAs and the bench do) gets their three replies in one
 * segment, not three: smtp-server writes each reply with a system call of its own, which, with the waking
 * of the peer it causes, was about a tenth of the `serve` process's CPU per report in a profile.
 * Nothing waits longer for its reply than the end of the current turn (setImmediate).
 *
 * The STARTTLS reply (220) is written at once, with anything held before it: the TLS handshake starts on
 * the same socket right after it, and a held cleartext reply would land inside the handshake.
 */
import type net from 'node:net';
import type { SMTPServer } from 'smtp-server';
import { onSmtpConnection, type ConnectionInternals } from './smtpConnections.js';

/** Returns false when this smtp-server version offers no connection hook (replies then go one by one). */
export function batchSmtpReplies(server: SMTPServer): boolean {
  return onSmtpConnection(server, (connection) => {
    const send = connection.send;
    let held: net.Socket | null = null;
    const flush = () => {
      const socket = held;
      held = null;
      if (socket && !socket.destroyed) socket.uncork();
    };
    connection.send = function (this: ConnectionInternals, code, data, context) {
      const socket = this._socket;
      if (code === 220 || !socket || socket.destroyed || this._upgrading) {
        flush();
        return send.call(this, code, data, context);
      }
      if (held !== socket) {
        flush();
        socket.cork();
        held = socket;
        setImmediate(flush);
      }
      send.call(this, code, data, context);
    };
  });
}
