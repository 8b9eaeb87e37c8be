/**
 * Generic webhook: the alert as JSON (README "Alerts" shows the shape). Retries resend the same alert id,
 * so a receiver that must not act twice can key on `id` (also in the X-Tlsrpt-Alert-Id header).
 */
import type { AlertMessage } from './alertMessage.js';
import { postJson } from './postJson.js';

export async function deliverWebhook(url: string, message: AlertMessage, options: { target: string; timeoutMs: number }): Promise<string> {
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
