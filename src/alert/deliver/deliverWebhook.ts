/**
 * Generic webhook: the alert as JSON (README "Alerts" shows the shape). Retries resend the same alert id,
 * so a receiver that must not act twice can key on `id` (also in the X-Tlsrpt-Alert-Id header). With
 * ALERT_WEBHOOK_SECRET set, the POST is signed (signPayload), so the receiver can check it comes from us.
 */
import type { AlertMessage } from './alertMessage.js';
import { postJson } from './postJson.js';

export async function deliverWebhook(
  url: string,
  message: AlertMessage,
  options: { target: string; timeoutMs: number; signingSecret?: string | null },
): Promise<string> {
  const { formatted, content } = message;
  const body = {
    id: message.alertId,
    kind: content.kind,
    severity: content.severity,
    policyDomain: content.policyDomain,
    createdAt: message.createdAt,
    subject: formatted.subject,
    text: formatted.text,
    content,
  };
  return postJson(url, body, { ...options, headers: { 'x-tlsrpt-alert-id': String(message.alertId) } });
}
