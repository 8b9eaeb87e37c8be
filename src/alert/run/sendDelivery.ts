/**
 * One attempt at one delivery, recorded whatever happens. Decides whether to try again:
 * - delivered                                  -> done
 * - a permanent error, or the last attempt     -> delivery `failed`; UnrecoverableError stops BullMQ
 * - anything else                              -> recorded, thrown: BullMQ retries with backoff
 */
import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { AlertConfig } from '../../config/alertConfig.js';
import type { Pool } from '../../db/pool.js';
import { errorMessage } from '../../errors.js';
import { alertMessage } from '../deliver/alertMessage.js';
import { loadDelivery, recordAttempt } from '../store/alertStore.js';
import { deliverAlert } from '../deliver/deliverAlert.js';
import { DeliveryError } from '../deliver/deliveryError.js';

export interface SendDeps {
  pool: Pool;
  config: AlertConfig;
  log: Logger;
}

export type SendOutcome = 'delivered' | 'not-pending';

/** `lastAttempt`: BullMQ will not run this job again, so a failure now is final. */
export async function sendDelivery(deps: SendDeps, deliveryId: number, lastAttempt: boolean): Promise<SendOutcome> {
  const d = await loadDelivery(deps.pool, deliveryId);
  if (!d || d.status !== 'pending') return 'not-pending';
  const attempt = d.attempts + 1;
  const dest = deps.config.destinations.find((x) => x.key === d.destinationKey);
  if (!dest) {
    const error = `${d.target} is no longer configured`;
    await recordAttempt(deps.pool, d.id, { durationMs: 0, ok: false, errorCode: 'destination-removed', error, settle: 'failed' });
    throw new UnrecoverableError(`destination-removed: ${error}`);
  }

  const started = performance.now();
  try {
    const response = await deliverAlert(dest, alertMessage(d.alertId, d.createdAt, d.content), deps.config.sendTimeoutMs);
    await recordAttempt(deps.pool, d.id, { durationMs: performance.now() - started, ok: true, response, settle: 'delivered' });
    deps.log.info({ alertId: d.alertId, deliveryId: d.id, target: d.target, attempt, response }, 'alert delivered');
    return 'delivered';
  } catch (err) {
    const e = err instanceof DeliveryError ? err : new DeliveryError('send-failed', errorMessage(err), false, { cause: err });
    const final = e.permanent || lastAttempt || attempt >= deps.config.deliveryAttempts;
    await recordAttempt(deps.pool, d.id, {
      durationMs: performance.now() - started,
      ok: false,
      errorCode: e.code,
      error: e.message,
      settle: final ? 'failed' : 'pending',
    });
    deps.log.warn(
      { alertId: d.alertId, deliveryId: d.id, target: d.target, attempt, code: e.code, err: e.message, final },
      final ? 'alert delivery given up' : 'alert delivery failed; will retry',
    );
    if (final) throw new UnrecoverableError(`${e.code}: ${e.message}`);
    throw e;
  }
}
