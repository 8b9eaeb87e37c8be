/**
 * Looks for quiet reporters (evaluateQuietReporters) over the recent reports and records an alert for each
 * new one. Safe to run as often as wanted and from every worker: each silence has one dedupe key.
 */
import type { Logger } from 'pino';
import { ruleFor, type AlertConfig } from '../../config/alertConfig.js';
import { withTransaction, type Pool } from '../../db/pool.js';
import { insertAlert } from '../store/alertStore.js';
import { STALE_AFTER_DAYS, evaluateQuietReporters } from '../decide/evaluateQuietReporters.js';

const DAY_MS = 86_400_000;

/** Returns the ids of the deliveries created. */
export async function checkQuietReporters(deps: { pool: Pool; config: AlertConfig; log: Logger }, now = new Date()): Promise<number[]> {
  const { config } = deps;
  const longest = Math.max(config.defaultRule.quietReporterDays, ...Object.values(config.domainRules).map((r) => r.quietReporterDays));
  if (longest === 0) return [];
  // Enough history for the longest silence that is still news, plus the week before it.
  const since = new Date(now.getTime() - (longest + 1 + STALE_AFTER_DAYS + 7) * DAY_MS);
  const rows = (
    await deps.pool.query<{ domain: string; organization_name: string; contact_info: string | null; days: string[]; last_end: Date }>(
      `SELECT lower(p.policy_domain) AS domain, r.organization_name, max(r.contact_info) AS contact_info,
              array_agg(DISTINCT to_char(r.start_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')) AS days, max(r.end_at) AS last_end
       FROM reports r JOIN policies p ON p.report_id = r.id
       WHERE r.start_at >= $1 AND coalesce(p.policy_domain, '') <> ''
       GROUP BY 1, 2`,
      [since],
    )
  ).rows;
  const findings = evaluateQuietReporters(
    rows.map((r) => ({
      policyDomain: r.domain,
      organizationName: r.organization_name,
      contactInfo: r.contact_info,
      reportDays: r.days,
      lastReportEnd: r.last_end,
    })),
    (domain) => {
      const rule = ruleFor(config, domain);
      return rule.enabled ? rule.quietReporterDays : 0;
    },
    now,
  );
  const deliveryIds: number[] = [];
  for (const f of findings) {
    const inserted = await withTransaction(deps.pool, (c) =>
      insertAlert(c, { dedupeKey: f.dedupeKey, content: f.alert, destinations: config.destinations }),
    );
    if (!inserted) continue;
    deps.log.warn(
      { alertId: inserted.alertId, policyDomain: f.alert.policyDomain, organization: f.alert.organizationName, text: inserted.text },
      inserted.subject,
    );
    deliveryIds.push(...inserted.deliveryIds);
  }
  return deliveryIds;
}
