/**
 * Slack-compatible incoming webhook: `{"text": ...}` in Slack mrkdwn, which Mattermost, Rocket.Chat and
 * others accept on the same kind of URL.
 */
import type { AlertMessage } from './alertMessage.js';
import { postJson } from './postJson.js';

export async function deliverSlack(url: string, message: AlertMessage, options: { target: string; timeoutMs: number }): Promise<string> {
  return postJson(url, { text: message.formatted.slackText }, options);
}
