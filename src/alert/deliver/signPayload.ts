/**
 * Webhook signing (README "Alerts", "Checking that a webhook comes from us"): with ALERT_WEBHOOK_SECRET set,
 * each generic webhook POST carries
 *
 *   X-Tlsrpt-Timestamp: <Unix seconds when it was sent>
 *   X-Tlsrpt-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>", keyed with the secret>
 *
 * The timestamp is inside what is signed, so a receiver that refuses timestamps older than a few minutes
 * cannot be fed a recorded request again (the scheme of Stripe's and Slack's own signatures). Retries are
 * signed afresh, with their own timestamp.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-tlsrpt-signature';
export const TIMESTAMP_HEADER = 'x-tlsrpt-timestamp';

export function signPayload(secret: string, body: string, now: Date = new Date()): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `sha256=${hmac(secret, timestamp, body)}` };
}

/**
 * What a receiver does, in TypeScript (README shows the same in a shell line): true when the signature is
 * ours and the timestamp within `toleranceSeconds` of now.
 */
export function verifyPayload(
  secret: string,
  body: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  now: Date = new Date(),
  toleranceSeconds = 300,
): boolean {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(`sha256=${hmac(secret, timestamp, body)}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function hmac(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}
