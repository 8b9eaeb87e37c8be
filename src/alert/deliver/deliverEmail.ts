/**
 * E-mail through the configured SMTP server (nodemailer). One connection per delivery: alerts are rare,
 * and a fresh connection picks up a server that has come back.
 */
import nodemailer from 'nodemailer';
import { DeliveryError } from './deliveryError.js';
import type { AlertMessage } from './alertMessage.js';

export interface EmailDestination {
  smtpUrl: string;
  from: string;
  to: readonly string[];
  /** The destination as it may appear in messages. */
  target: string;
}

/** Resolves with the server's reply to the message ("250 2.0.0 OK queued as ..."); throws DeliveryError. */
export async function deliverEmail(dest: EmailDestination, message: AlertMessage, timeoutMs: number): Promise<string> {
  const transport = nodemailer.createTransport({
    url: dest.smtpUrl,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  const critical = message.content.severity === 'critical';
  const domainPart = dest.from.slice(dest.from.lastIndexOf('@') + 1);
  try {
    const info = await transport.sendMail({
      from: dest.from,
      to: [...dest.to],
      subject: headerValue(message.formatted.subject, 900),
      text: message.formatted.text,
      // The same Message-ID on every retry, so a mailbox that got a copy before the reply was lost can
      // show it as one message.
      messageId: `<tlsrpt-alert-${message.alertId}@${domainPart}>`,
      priority: critical ? 'high' : 'normal',
      headers: {
        'Auto-Submitted': 'auto-generated', // RFC 3834 section 5: no auto-replies to alerts
        'X-Tlsrpt-Alert-Id': String(message.alertId),
        'X-Tlsrpt-Severity': message.content.severity,
        'X-Tlsrpt-Policy-Domain': headerValue(message.content.policyDomain),
      },
    });
    return info.response;
  } catch (err) {
    throw smtpError(err, dest.target);
  } finally {
    transport.close();
  }
}

/**
 * The subject and the policy domain carry report text, i.e. text from anyone who can mail us: one line, no
 * control characters (a CR/LF would start a header of the sender's choosing), bounded. formatAlert already
 * escapes them; this is the last guard at the edge.
 */
export function headerValue(s: string, maxLength = 253): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').slice(0, maxLength);
}

function smtpError(err: unknown, target: string): DeliveryError {
  const e = err as { code?: string; responseCode?: number; response?: string; message?: string };
  const detail = e.response ?? e.message ?? String(err);
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH') {
    return new DeliveryError('smtp-auth-failed', `${target}: ${detail}`, true, { cause: err });
  }
  if (typeof e.responseCode === 'number' && e.responseCode >= 400) {
    return new DeliveryError('smtp-rejected', `${target}: ${detail}`, e.responseCode >= 500, { cause: err });
  }
  if (e.code === 'ETIMEDOUT') return new DeliveryError('timeout', `${target}: ${detail}`, false, { cause: err });
  if (e.code === 'ECONNECTION' || e.code === 'ESOCKET' || e.code === 'EDNS' || e.code === 'ETLS') {
    return new DeliveryError('connection-failed', `${target}: ${detail}`, false, { cause: err });
  }
  return new DeliveryError('send-failed', `${target}: ${detail}`, false, { cause: err });
}
