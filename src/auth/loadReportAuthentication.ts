/**
 * Who vouched for a stored report, and what each of its copies proved: what `tlsrpt report show` prints,
 * and what a report page or API should show (README "Authentication (DKIM)").
 */
import type { Pool } from '../db/pool.js';
import type { Channel, MessageStatus } from '../store/rawMessages.js';
import type { MessageAuthentication } from './verifyDkim.js';

export interface ReportCopy {
  rawMessageId: number;
  channel: Channel;
  status: MessageStatus;
  receivedAt: Date;
  /** Null: not verified (received before migration 0010). */
  authentication: MessageAuthentication | null;
}

export interface ReportAuthenticationView {
  id: number;
  organizationName: string;
  reportId: string;
  startAt: Date;
  endAt: Date;
  policyDomains: string[];
  authenticated: boolean;
  authenticatedBy: string | null;
  /** Every raw message that carried this report: the one stored first, then its duplicates, by arrival. */
  copies: ReportCopy[];
}

export async function loadReportAuthentication(pool: Pool, id: number): Promise<ReportAuthenticationView | null> {
  const report = (
    await pool.query<{
      id: number;
      organization_name: string;
      report_id: string;
      start_at: Date;
      end_at: Date;
      authenticated: boolean;
      authenticated_by: string | null;
      policy_domains: string[];
    }>(
      `SELECT r.id, r.organization_name, r.report_id, r.start_at, r.end_at, r.authenticated, r.authenticated_by,
              ARRAY(SELECT DISTINCT p.policy_domain FROM policies p
                    WHERE p.report_id = r.id AND p.policy_domain IS NOT NULL ORDER BY 1) AS policy_domains
       FROM reports r WHERE r.id = $1`,
      [id],
    )
  ).rows[0];
  if (!report) return null;
  // Index raw_messages_report_id_idx (migration 0010).
  const copies = (
    await pool.query<{
      id: number;
      channel: Channel;
      status: MessageStatus;
      received_at: Date;
      authentication: MessageAuthentication | null;
    }>(`SELECT id, channel, status, received_at, authentication FROM raw_messages WHERE report_id = $1 ORDER BY received_at, id`, [id])
  ).rows;
  return {
    id: report.id,
    organizationName: report.organization_name,
    reportId: report.report_id,
    startAt: report.start_at,
    endAt: report.end_at,
    policyDomains: report.policy_domains,
    authenticated: report.authenticated,
    authenticatedBy: report.authenticated_by,
    copies: copies.map((c) => ({
      rawMessageId: c.id,
      channel: c.channel,
      status: c.status,
      receivedAt: c.received_at,
      authentication: c.authentication,
    })),
  };
}
