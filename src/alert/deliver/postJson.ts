/**
 * One JSON POST with a deadline, shared by the webhook and Slack deliveries. Errors name the destination
 * by its masked form only: the URL of a Slack webhook is its credential.
 */
import { DeliveryError } from './deliveryError.js';
import { signPayload } from './signPayload.js';

export interface PostJsonOptions {
  /** The URL as it may appear in messages (src/config/alertConfig.ts maskSecretUrl). */
  target: string;
  timeoutMs: number;
  headers?: Record<string, string>;
  /** Sign the body with this secret (signPayload); the signature covers the exact bytes sent. */
  signingSecret?: string | null;
}

/** 4xx statuses that say "later" (408: RFC 9110 15.5.9, 425: RFC 8470 5.2, 429: RFC 6585 4); other 4xx say "never". */
const RETRYABLE_4XX = new Set([408, 425, 429]);

/** Resolves with "HTTP <status>" on 2xx; throws DeliveryError otherwise. */
export async function postJson(url: string, body: unknown, options: PostJsonOptions): Promise<string> {
  const json = JSON.stringify(body);
  const signature = options.signingSecret ? signPayload(options.signingSecret, json) : {};
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'tlsrpt-alerts', ...options.headers, ...signature },
      body: json,
      redirect: 'manual', // a webhook that moved is a configuration error, not something to follow silently
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    throw fetchError(err, options);
  }
  let text: string;
  try {
    text = (await res.text()).replace(/\s+/g, ' ').trim().slice(0, 200);
  } catch (err) {
    throw fetchError(err, options);
  }
  if (res.status >= 200 && res.status < 300) return `HTTP ${res.status}`;
  const permanent = res.status < 500 && !RETRYABLE_4XX.has(res.status);
  throw new DeliveryError('http-status', `${options.target} answered HTTP ${res.status}${text ? `: ${text}` : ''}`, permanent);
}

function fetchError(err: unknown, options: PostJsonOptions): DeliveryError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return new DeliveryError('timeout', `${options.target} did not answer within ${options.timeoutMs / 1000} s`, false, { cause: err });
  }
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
  return new DeliveryError('connection-failed', `cannot reach ${options.target}: ${why}`, false, { cause: err });
}
