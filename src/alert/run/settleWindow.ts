/**
 * Evaluates one closed window, once: loads it under the domain's lock, asks evaluateWindow, records the
 * alert (if any) with its pending deliveries, and marks the window evaluated, in one transaction.
 * Running it again for the same window changes nothing and returns the deliveries still pending, so the
 * job may be retried at any point (after a crash between commit and enqueue, for one).
 */
import type { Logger } from 'pino';
import { ruleFor, type AlertConfig } from '../../config/alertConfig.js';
import { withTransaction, type Pool } from '../../db/pool.js';
import { insertAlert, pendingDeliveriesOfWindow } from '../store/alertStore.js';
import { evaluateWindow } from '../decide/evaluateWindow.js';
import { loadCooldownHistory, loadWindow, loadWindowReports, lockDomain, markWindowEvaluated } from '../store/windowStore.js';

export interface SettleDeps {
  pool: Pool;
  config: AlertConfig;
  log: Logger;
}

/** Returns the ids of the window's deliveries still to be sent. */
export async function settleWindow(deps: SettleDeps, windowId: number): Promise<number[]> {
  await withTransaction(deps.pool, async (c) => {
    const found = await loadWindow(c, windowId);
    if (!found || found.evaluatedAt) return;
    await lockDomain(c, found.policyDomain);
    const w = await loadWindow(c, windowId, true); // again under the lock: a report may have joined meanwhile
    if (!w || w.evaluatedAt) return;

    const evaluation = evaluateWindow({
      policyDomain: w.policyDomain,
      openedAt: w.openedAt,
      closesAt: w.closesAt,
      reports: await loadWindowReports(c, w.id, deps.config.authenticatedOnly),
      history: await loadCooldownHistory(c, w.policyDomain, w.openedAt),
      rule: ruleFor(deps.config, w.policyDomain),
      cooldownMs: deps.config.cooldownMs,
      growthFactor: deps.config.growthFactor,
    });
    const facts = { windowId: w.id, policyDomain: w.policyDomain, ...evaluation.totals };
    if (evaluation.outcome !== 'alert') {
      deps.log.info({ ...facts, outcome: evaluation.outcome }, 'alert window evaluated: no alert');
      await markWindowEvaluated(c, w.id, evaluation.outcome);
      return;
    }
    const inserted = await insertAlert(c, {
      dedupeKey: `window-${w.id}`,
      content: evaluation.alert,
      windowId: w.id,
      destinations: deps.config.destinations,
    });
    await markWindowEvaluated(c, w.id, 'alerted');
    if (inserted) {
      // The log is a destination too: every alert is in it, configured destinations or not.
      deps.log.warn(
        {
          ...facts,
          alertId: inserted.alertId,
          severity: evaluation.alert.severity,
          destinations: inserted.deliveryIds.length,
          text: inserted.text,
        },
        inserted.subject,
      );
    }
  });
  return pendingDeliveriesOfWindow(deps.pool, windowId);
}
