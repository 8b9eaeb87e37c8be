/** Sends one alert to one configured destination; resolves with the destination's reply. */
import type { AlertDestinationConfig } from '../../config/alertConfig.js';
import type { AlertMessage } from './alertMessage.js';
import { deliverEmail } from './deliverEmail.js';
import { deliverSlack } from './deliverSlack.js';
import { deliverWebhook } from './deliverWebhook.js';

export async function deliverAlert(dest: AlertDestinationConfig, message: AlertMessage, timeoutMs: number): Promise<string> {
  switch (dest.kind) {
    case 'webhook':
      return deliverWebhook(dest.url, message, { target: dest.target, timeoutMs, signingSecret: dest.signingSecret ?? null });
    case 'slack':
      return deliverSlack(dest.url, message, { target: dest.target, timeoutMs });
    case 'email':
      return deliverEmail(dest, message, timeoutMs);
  }
}
