/**
 * Alerts, their deliveries and every delivery attempt in PostgreSQL (migrations/0003). An alert is
 * inserted once per dedupe key; its status is rolled up from its deliveries after each attempt.
 */
import type { AlertDestinationConfig } from '../../config/alertConfig.js';
import type { Pool, PoolClient } from '../../db/pool.js';
import { withTransaction } from '../../db/pool.js';
import type { AlertContent } from '../decide/alertContent.js';
import type { DeliveryErrorCode } from '../deliver/deliveryError.js';
import { formatAlert } from '../decide/formatAlert.js';

type Queryable = Pool | PoolClient;

export interface NewAlert {
  dedupeKey: string;
  content: AlertContent;
  windowId?: number | null;
  destinations: readonly AlertDestinationConfig[];
}

export interface InsertedAlert {
  alertId: number;
  deliveryIds: number[];
  subject: string;
  text: string;
}

/**
 * Inserts the alert with one pending delivery per destination, and its result types for the cooldown.
 * Returns null when an alert with the same dedupe key exists: the caller must not alert again.
 */
export async function insertAlert(c: Queryable, a: NewAlert): Promise<InsertedAlert | null> {
  const { subject, text } = formatAlert(a.content);
  const inserted = await c.query<{ id: number }>(
    `INSERT INTO alerts (dedupe_key, kind, severity, policy_domain, window_id, subject, body_text, content, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
    [
      a.dedupeKey,
      a.content.kind,
      a.content.severity,
      a.content.policyDomain,
      a.windowId ?? null,
      subject,
      text,
      JSON.stringify(a.content),
      a.destinations.length ? 'pending' : 'no-destination',
    ],
  );
  const alertId = inserted.rows[0]?.id;
  if (alertId === undefined) return null;

  if (a.content.kind === 'failed-sessions') {
    const items = a.content.resultTypes.map((t) => ({ t: t.resultType, n: t.failedSessions, c: t.critical, x: t.trigger !== null }));
    await c.query(
      `INSERT INTO alert_items (alert_id, result_type, failed_sessions, critical, triggered)
       SELECT $1, t, n, c, x FROM jsonb_to_recordset($2::jsonb) AS r(t text, n bigint, c boolean, x boolean)`,
      [alertId, JSON.stringify(items)],
    );
  }
  const deliveries = await c.query<{ id: number }>(
    `INSERT INTO alert_deliveries (alert_id, destination_kind, destination_key, target)
     SELECT $1, kind, key, target FROM jsonb_to_recordset($2::jsonb) AS r(kind text, key text, target text)
     RETURNING id`,
    [alertId, JSON.stringify(a.destinations.map((d) => ({ kind: d.kind, key: d.key, target: d.target })))],
  );
  return { alertId, deliveryIds: deliveries.rows.map((r) => r.id), subject, text };
}

export interface DeliveryRow {
  id: number;
  alertId: number;
  destinationKey: string;
  target: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  content: AlertContent;
  createdAt: Date;
}

export async function loadDelivery(c: Queryable, deliveryId: number): Promise<DeliveryRow | null> {
  const res = await c.query<{
    id: number;
    alert_id: number;
    destination_key: string;
    target: string;
    status: DeliveryRow['status'];
    attempts: number;
    content: AlertContent;
    created_at: Date;
  }>(
    `SELECT d.id, d.alert_id, d.destination_key, d.target, d.status, d.attempts, a.content, a.created_at
     FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.id = $1`,
    [deliveryId],
  );
  const r = res.rows[0];
  return r
    ? {
        id: r.id,
        alertId: r.alert_id,
        destinationKey: r.destination_key,
        target: r.target,
        status: r.status,
        attempts: r.attempts,
        content: r.content,
        createdAt: r.created_at,
      }
    : null;
}

export interface AttemptRecord {
  durationMs: number;
  ok: boolean;
  response?: string | null;
  errorCode?: DeliveryErrorCode | null;
  error?: string | null;
  /** The delivery's state after this attempt: still pending (will be retried), delivered or given up. */
  settle: 'pending' | 'delivered' | 'failed';
}

/**
 * Records one attempt, updates the delivery, and rolls the alert's status up from all its deliveries.
 *
 * The alert row is locked first: two deliveries of one alert finishing together would otherwise each
 * roll up while the other's change is uncommitted, see it as still pending, and leave the alert
 * `pending` for good although every delivery is `delivered` (issue 15, 49 of 103 after a burst). With the
 * lock the second waits for the first to commit, and its roll-up (a new statement, so a new snapshot under
 * READ COMMITTED) sees both.
 */
export async function recordAttempt(pool: Pool, deliveryId: number, a: AttemptRecord): Promise<void> {
  await withTransaction(pool, async (c) => {
    const locked = await c.query(
      `SELECT a.id FROM alerts a WHERE a.id = (SELECT alert_id FROM alert_deliveries WHERE id = $1) FOR UPDATE OF a`,
      [deliveryId],
    );
    if (!locked.rowCount) return;
    const d = await c.query<{ alert_id: number; attempts: number }>(
      `UPDATE alert_deliveries
       SET attempts = attempts + 1, status = $2, updated_at = now(),
           delivered_at = CASE WHEN $2 = 'delivered' THEN now() END,
           last_error_code = CASE WHEN $3 THEN last_error_code ELSE $4 END,
           last_error = CASE WHEN $3 THEN last_error ELSE $5 END
       WHERE id = $1 RETURNING alert_id, attempts`,
      [deliveryId, a.settle, a.ok, a.errorCode ?? null, a.error ?? null],
    );
    const row = d.rows[0];
    if (!row) return;
    await c.query(
      `INSERT INTO alert_delivery_attempts (delivery_id, attempt, duration_ms, ok, response, error_code, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [deliveryId, row.attempts, Math.round(a.durationMs), a.ok, a.response ?? null, a.ok ? null : a.errorCode, a.ok ? null : a.error],
    );
    await rollUpAlertStatus(c, row.alert_id);
  });
}

async function rollUpAlertStatus(c: PoolClient, alertId: number): Promise<void> {
  await c.query(
    `UPDATE alerts SET status = s.status, last_error = coalesce(s.last_error, alerts.last_error)
     FROM (
       SELECT CASE WHEN bool_or(status = 'pending') THEN 'pending'
                   WHEN bool_and(status = 'delivered') THEN 'delivered'
                   WHEN bool_or(status = 'delivered') THEN 'partly-delivered'
                   ELSE 'failed' END AS status,
              (array_agg(last_error_code || ': ' || last_error ORDER BY updated_at DESC)
                 FILTER (WHERE last_error IS NOT NULL))[1] AS last_error
       FROM alert_deliveries WHERE alert_id = $1
     ) s
     WHERE alerts.id = $1`,
    [alertId],
  );
}

/** Pending deliveries of the alert of a window (to enqueue after the window was evaluated). */
export async function pendingDeliveriesOfWindow(c: Queryable, windowId: number): Promise<number[]> {
  const res = await c.query<{ id: number }>(
    `SELECT d.id FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
     WHERE a.window_id = $1 AND d.status = 'pending' ORDER BY d.id`,
    [windowId],
  );
  return res.rows.map((r) => r.id);
}

/** Pending deliveries created more than `minAgeMs` ago: their job may have been lost with Redis. */
export async function listPendingDeliveries(pool: Pool, minAgeMs: number, limit = 1000): Promise<number[]> {
  const res = await pool.query<{ id: number }>(
    `SELECT id FROM alert_deliveries WHERE status = 'pending' AND created_at < now() - $1 * interval '1 millisecond'
     ORDER BY id LIMIT $2`,
    [minAgeMs, limit],
  );
  return res.rows.map((r) => r.id);
}

export interface AlertListing {
  id: number;
  createdAt: Date;
  kind: string;
  severity: string;
  policyDomain: string;
  subject: string;
  status: string;
  lastError: string | null;
  deliveries: Array<{
    kind: string;
    target: string;
    status: string;
    attempts: number;
    lastErrorCode: string | null;
    lastError: string | null;
    deliveredAt: string | null;
  }>;
}

/** Recent alerts, newest first, each with its deliveries. */
export async function listAlerts(
  pool: Pool,
  options: { limit: number; domain?: string | null; kind?: string | null },
): Promise<AlertListing[]> {
  const res = await pool.query<{
    id: number;
    created_at: Date;
    kind: string;
    severity: string;
    policy_domain: string;
    subject: string;
    status: string;
    last_error: string | null;
    deliveries: AlertListing['deliveries'];
  }>(
    `SELECT a.id, a.created_at, a.kind, a.severity, a.policy_domain, a.subject, a.status, a.last_error,
            coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'kind', d.destination_kind, 'target', d.target, 'status', d.status, 'attempts', d.attempts,
                        'lastErrorCode', d.last_error_code, 'lastError', d.last_error, 'deliveredAt', d.delivered_at)
                      ORDER BY d.id)
                      FROM alert_deliveries d WHERE d.alert_id = a.id), '[]'::jsonb) AS deliveries
     FROM alerts a
     WHERE ($2::text IS NULL OR a.policy_domain = lower($2)) AND ($3::text IS NULL OR a.kind = $3)
     ORDER BY a.id DESC LIMIT $1`,
    [options.limit, options.domain ?? null, options.kind ?? null],
  );
  return res.rows.map((r) => ({
    id: r.id,
    createdAt: r.created_at,
    kind: r.kind,
    severity: r.severity,
    policyDomain: r.policy_domain,
    subject: r.subject,
    status: r.status,
    lastError: r.last_error,
    deliveries: r.deliveries,
  }));
}
