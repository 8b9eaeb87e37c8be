/**
 * `tlsrpt alerts test`: sends a test alert to every configured destination at once (no queue, no retry),
 * so the administrator sees each destination's answer, and records it like any other alert.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../config/loadConfig.js';
import { createPool, withTransaction } from '../../db/pool.js';
import { errorMessage } from '../../errors.js';
import type { TestAlert } from '../decide/alertContent.js';
import { alertMessage } from '../deliver/alertMessage.js';
import { insertAlert, recordAttempt } from '../store/alertStore.js';
import { deliverAlert } from '../deliver/deliverAlert.js';
import { DeliveryError } from '../deliver/deliveryError.js';

export interface TestResult {
  kind: string;
  target: string;
  ok: boolean;
  /** The destination's answer, or the error code and message. */
  detail: string;
  durationMs: number;
}

export interface TestOutcome {
  results: TestResult[];
  /** alerts.id, or null when the database could not record it (the reason is in recordError). */
  alertId: number | null;
  recordError: string | null;
}

export async function sendTestAlert(config: Config, policyDomain: string, now = new Date()): Promise<TestOutcome> {
  const { destinations } = config.alerts;
  const content: TestAlert = { kind: 'test', severity: 'warning', policyDomain, sentAt: now.toISOString() };
  const pool = createPool(config.databaseUrl, { max: 2, connectionTimeoutMillis: 3000, applicationName: 'tlsrpt-alerts-test' });
  try {
    let alertId: number | null = null;
    let recordError: string | null = null;
    const deliveryIds = new Map<string, number>();
    try {
      await withTransaction(pool, async (c) => {
        const inserted = await insertAlert(c, { dedupeKey: `test-${randomUUID()}`, content, destinations });
        alertId = inserted?.alertId ?? null;
        const rows = await c.query<{ id: number; destination_key: string }>(
          `SELECT id, destination_key FROM alert_deliveries WHERE alert_id = $1`,
          [alertId],
        );
        for (const r of rows.rows) deliveryIds.set(r.destination_key, r.id);
      });
    } catch (err) {
      recordError = errorMessage(err);
    }

    const message = alertMessage(alertId ?? 0, now, content);
    const results = await Promise.all(
      destinations.map(async (dest): Promise<TestResult> => {
        const started = performance.now();
        let result: TestResult;
        let error: DeliveryError | null = null;
        try {
          const response = await deliverAlert(dest, message, config.alerts.sendTimeoutMs);
          result = { kind: dest.kind, target: dest.target, ok: true, detail: response, durationMs: performance.now() - started };
        } catch (err) {
          error = err instanceof DeliveryError ? err : new DeliveryError('send-failed', errorMessage(err), false);
          result = {
            kind: dest.kind,
            target: dest.target,
            ok: false,
            detail: `${error.code}: ${error.message}`,
            durationMs: performance.now() - started,
          };
        }
        const deliveryId = deliveryIds.get(dest.key);
        if (deliveryId !== undefined) {
          await recordAttempt(pool, deliveryId, {
            durationMs: result.durationMs,
            ok: result.ok,
            response: result.ok ? result.detail : null,
            errorCode: error?.code ?? null,
            error: error?.message ?? null,
            settle: result.ok ? 'delivered' : 'failed',
          }).catch((err: unknown) => {
            recordError ??= errorMessage(err);
          });
        }
        return result;
      }),
    );
    return { results, alertId, recordError };
  } finally {
    await pool.end();
  }
}
