/** An alert as the deliveries receive it: stored content plus its rendering, identical on every retry. */
import type { AlertContent } from '../decide/alertContent.js';
import { formatAlert, type FormattedAlert } from '../decide/formatAlert.js';

export interface AlertMessage {
  alertId: number;
  /** ISO time the alert was created. */
  createdAt: string;
  content: AlertContent;
  formatted: FormattedAlert;
}

export function alertMessage(alertId: number, createdAt: Date, content: AlertContent): AlertMessage {
  return { alertId, createdAt: createdAt.toISOString(), content, formatted: formatAlert(content) };
}
