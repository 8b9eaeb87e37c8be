/**
 * The SMTP receiver: the MX for the `rua=mailto:` address. Replies are decided here, in one place:
 *   550  recipient not accepted            (RCPT TO)
 *   552  message over MAX_MESSAGE_SIZE     (counted while DATA streams; a MAIL FROM with a larger SIZE= is
 *        answered 552 by smtp-server itself, from the `size` option, before any handler here runs)
 *   451  the raw message could not be committed to Postgres, or not within SMTP_COMMIT_TIMEOUT_SECONDS: the
 *        sender keeps it and retries
 *   250  "queued as <id>" only after the INSERT of the raw bytes has committed
 *   421  while shutting down, to new connections; to an address past SMTP_MAX_CONNECTIONS_PER_CLIENT; and to
 *        end a session past SMTP_MAX_SESSION_SECONDS or SMTP_MAX_COMMANDS_WITHOUT_MAIL (smtpSessionLimits.ts)
 */
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config/loadConfig.js';
import { errorMessage } from '../errors.js';
import { acceptRawMessage, type AcceptDeps } from './acceptRawMessage.js';
import { isAcceptedRecipient } from './recipients.js';
import { applySmtpSessionLimits } from './smtpSessionLimits.js';

export interface SmtpReceiver {
  /** Resolves with the port actually bound (useful with port 0). */
  listen(): Promise<number>;
  /** Stops accepting connections and waits for in-flight messages (up to SHUTDOWN_TIMEOUT_SECONDS). */
  close(): Promise<void>;
  /**
   * Offers `pair` to new STARTTLS connections (a renewal found on SIGHUP or by the periodic check:
   * src/tls/servedPair.ts); connections in progress keep theirs. Throws, leaving the pair in service, when the key does not match the certificate.
   */
  updateTls(pair: { cert: Buffer; key: Buffer }): void;
}

type SmtpError = Error & { responseCode?: number };

function smtpError(code: number, message: string): SmtpError {
  return Object.assign(new Error(message), { responseCode: code });
}

export function createSmtpReceiver(config: Config, deps: AcceptDeps & { log: Logger }): SmtpReceiver {
  const { smtp } = config;
  const log = deps.log;
  let closing = false;

  const server = new SMTPServer({
    name: smtp.serverName,
    banner: 'TLS report receiver (RFC 8460)',
    // Reports are sent by MTAs without authentication (RFC 8460 5.3).
    authOptional: true,
    disabledCommands: smtp.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(smtp.tls ? { key: smtp.tls.key, cert: smtp.tls.cert } : {}),
    size: smtp.maxMessageBytes,
    maxClients: smtp.maxConnections,
    // No reverse DNS per connection: it costs a lookup per report and we do not use the name.
    disableReverseLookup: true,
    closeTimeout: config.shutdownTimeoutMs,
    logger: false,

    onConnect(_session, callback) {
      if (closing) return callback(smtpError(421, 'Service shutting down, try again later'));
      callback();
    },

    onRcptTo(address, _session, callback) {
      if (!isAcceptedRecipient(address.address, smtp.acceptedRecipients)) {
        return callback(smtpError(550, `5.1.1 <${address.address}>: no TLS reports are accepted for this recipient here`));
      }
      callback();
    },

    onData(stream: SMTPServerDataStream, session: SMTPServerSession, done) {
      // smtp-server must get exactly one answer per message, whichever of 'error' and 'end' comes first.
      let answered = false;
      const callback = (err: Error | null, message?: string) => {
        if (answered) return;
        answered = true;
        done(err, message);
      };
      const chunks: Buffer[] = [];
      let size = 0;
      let oversized = false;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > smtp.maxMessageBytes) {
          // Keep draining the socket so the 552 can be sent, but stop holding the bytes.
          oversized = true;
          chunks.length = 0;
        } else {
          chunks.push(chunk);
        }
      });
      stream.on('error', (err) => callback(smtpError(451, `4.3.0 Error reading message: ${errorMessage(err)}`)));
      stream.on('end', () => {
        if (oversized || stream.sizeExceeded) {
          return callback(smtpError(552, `5.3.4 Message exceeds the limit of ${smtp.maxMessageBytes} bytes`));
        }
        const raw = Buffer.concat(chunks, size);
        acceptRawMessage(deps, raw, {
          channel: 'smtp',
          remoteAddress: session.remoteAddress,
          helo: session.hostNameAppearsAs || null,
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
        }).then(
          (id) => callback(null, `2.0.0 OK queued as ${id}`),
          (err) => {
            log.error({ err: errorMessage(err), remote: session.remoteAddress }, 'could not store message; replied 451');
            callback(smtpError(451, '4.3.0 Temporary storage failure, please try again later'));
          },
        );
      });
    },
  });

  server.on('error', (err) => log.error({ err: errorMessage(err) }, 'SMTP server error'));
  applySmtpSessionLimits(
    server,
    {
      maxConnectionsPerClient: smtp.maxConnectionsPerClient,
      maxSessionMs: smtp.maxSessionMs,
      maxCommandsWithoutMail: smtp.maxCommandsWithoutMail,
    },
    smtp.serverName,
    log,
  );

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.server.once('error', reject);
        server.listen(smtp.port, smtp.host, () => {
          server.server.off('error', reject);
          const addr = server.server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : smtp.port);
        });
      }),
    close: () => {
      closing = true;
      return new Promise((resolve) => server.close(() => resolve()));
    },
    updateTls(pair) {
      createSecureContext({ cert: pair.cert, key: pair.key }); // throws for a mismatched pair, before anything changes
      server.updateSecureContext({ cert: pair.cert, key: pair.key });
    },
  };
}
