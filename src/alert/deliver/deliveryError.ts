/**
 * Why a delivery attempt failed, as a stable kebab-case code (the same word in alert_deliveries, the logs,
 * `tlsrpt alerts list` and README "Delivery"), and whether retrying can help. DELIVERY_ERRORS is the one
 * registry of the family.
 */
import { TlsrptError } from '../../errors.js';

export const DELIVERY_ERRORS = {
  'connection-failed': 'The destination could not be reached: connection refused or reset, DNS failure, TLS handshake failure. Retried.',
  timeout: 'No complete answer within ALERT_SEND_TIMEOUT_SECONDS. Retried.',
  'http-status':
    'The webhook answered with a status other than 2xx. 5xx, 408, 425 and 429 are retried; other 4xx and 3xx mean the URL or the payload is refused, and are not.',
  'smtp-rejected': 'The SMTP server refused the sender, a recipient or the message. 4xx replies are retried; 5xx are not.',
  'smtp-auth-failed': 'The SMTP server refused the user name or password of ALERT_EMAIL_SMTP_URL. Not retried.',
  'destination-removed': 'The destination was removed from the configuration before the alert reached it. Not retried.',
  'send-failed': 'Any other error while sending; the message says which. Retried.',
} as const;

export type DeliveryErrorCode = keyof typeof DELIVERY_ERRORS;

export class DeliveryError extends TlsrptError {
  override readonly name = 'DeliveryError';
  declare readonly code: DeliveryErrorCode;
  constructor(
    code: DeliveryErrorCode,
    message: string,
    /** true: the same request will fail again; stop retrying. */
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
