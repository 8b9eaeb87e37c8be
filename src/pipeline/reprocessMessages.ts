/**
 * Replays messages that did not produce a report (quarantined, or still pending) through the current
 * parser: after an upgrade that learns a new quirk, what arrived before is not lost.
 * Messages already settled as stored, duplicate or conflict are left as they are: their reports are never
 * rewritten, so reprocessing is idempotent (running it twice changes nothing the second time).
 */
import type { Pool } from '../db/pool.js';
import { processMessage, type ProcessDeps, type ProcessResult } from './processMessage.js';

export interface ReprocessSelection {
  /** Specific message ids; otherwise every quarantined message (optionally only those with `reason`). */
  ids?: number[];
  reason?: string;
  /** Also replay messages still pending (normally the worker's job). */
  includePending?: boolean;
}

export interface ReprocessSummary {
  selected: number;
  outcomes: Record<string, number>;
  /** Reasons of messages still quarantined after the replay. */
  stillQuarantined: Record<string, number>;
  /** Ids asked for that were already settled with a report, and left alone. */
  leftAlone: number[];
}

export async function reprocessMessages(
  deps: ProcessDeps & { pool: Pool },
  selection: ReprocessSelection,
  onProgress?: (done: number, total: number, id: number, result: ProcessResult) => void,
): Promise<ReprocessSummary> {
  const statuses = selection.includePending || selection.ids ? ['quarantined', 'pending'] : ['quarantined'];
  const res = await deps.pool.query<{ id: number; status: string }>(
    `SELECT id, status FROM raw_messages
     WHERE ($1::bigint[] IS NULL OR id = ANY($1))
       AND ($2::text IS NULL OR reason = $2)
     ORDER BY id`,
    [selection.ids ?? null, selection.reason ?? null],
  );
  const chosen = res.rows.filter((r) => statuses.includes(r.status)).map((r) => r.id);
  const leftAlone = selection.ids ? res.rows.filter((r) => !statuses.includes(r.status)).map((r) => r.id) : [];

  const summary: ReprocessSummary = { selected: chosen.length, outcomes: {}, stillQuarantined: {}, leftAlone };
  let done = 0;
  for (const id of chosen) {
    // Back to pending with a clean slate; only this message, and only if nothing settled it meanwhile.
    await deps.pool.query(
      `UPDATE raw_messages SET status = 'pending', reason = NULL, detail = NULL, attempts = 0, last_error = NULL
       WHERE id = $1 AND status IN ('quarantined', 'pending')`,
      [id],
    );
    const result = await processMessage(deps, id);
    const key = result.outcome === 'skipped' ? `skipped (${result.status})` : result.outcome;
    summary.outcomes[key] = (summary.outcomes[key] ?? 0) + 1;
    if (result.outcome === 'quarantined') summary.stillQuarantined[result.reason] = (summary.stillQuarantined[result.reason] ?? 0) + 1;
    onProgress?.(++done, chosen.length, id, result);
  }
  return summary;
}
