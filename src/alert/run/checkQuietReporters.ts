/**
 * Looks for quiet reporters (evaluateQuietReporters) over the recent reports and records an alert for each
 * new one. Safe to run as often as wanted and from every worker: each silence has one dedupe key.
 */
import type { Logger } from 'pino';
import { ruleFor, type AlertConfig } from '../../config/alertConfig.js';
import { withTransaction, type Pool } from '../../db/pool.js';
import { insertAlert } from '../store/alertStore.js';
import { STALE_AFTER_DAYS, evaluateQuietReporters, type ReporterHistory } from '../decide/evaluateQuietReporters.js';

const DAY_MS = 86_400_000;

/** Returns the ids of the deliveries created. */
export async function checkQuietReporters(deps: { pool: Pool; config: AlertConfig; log: Logger }, now = new Date()): Promise<number[]> {
  const { config } = deps;
  const longest = Math.max(config.defaultRule.quietReporterDays, ...Object.values(config.domainRules).map((r) => r.quietReporterDays));
  if (longest === 0) return [];
  // Enough history for the longest silence that is still news, plus the week before it.
  const since = new Date(now.getTime() - (longest + 1 + STALE_AFTER_DAYS + 7) * DAY_MS);
  const findings = evaluateQuietReporters(
    await loadReporterHistories(deps.pool, since),
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

/**
 * Per policy domain and reporter, the reports that started since `since`: their days by SQL report_day(), the
 * rule the stats count days by (src/rules/reportDay.ts is its TypeScript side), and the end of the last one.
 */
export async function loadReporterHistories(pool: Pool, since: Date): Promise<ReporterHistory[]> {
  const rows = (
    await pool.query<{ domain: string; organization_name: string; contact_info: string | null; days: string[]; last_end: Date }>(
      `SELECT lower(p.policy_domain) AS domain, r.organization_name, max(r.contact_info) AS contact_info,
              array_agg(DISTINCT report_day(r.start_at, r.end_at)::text) AS days, max(r.end_at) AS last_end
       FROM reports r JOIN policies p ON p.report_id = r.id
       WHERE r.start_at >= $1 AND coalesce(p.policy_domain, '') <> ''
       GROUP BY 1, 2`,
      [since],
    )
  ).rows;
  return rows.map((r) => ({
    policyDomain: r.domain,
    organizationName: r.organization_name,
    contactInfo: r.contact_info,
    reportDays: r.days,
    lastReportEnd: r.last_end,
  }));
}
