/**
 * Replays messages that did not produce a report (quarantined, or still pending) through the current
 * parser: after an upgrade that learns a new quirk, what arrived before is not lost.
 * Messages already settled as stored, duplicate or conflict are left as they are: their reports are never
 * rewritten, so reprocessing is idempotent (running it twice changes nothing the second time).
 *
 * The messages are found a batch at a time by indexed queries (quarantined ones by the partial index of
 * migrations/0008, pending ones by that of 0001), each batch starting after the last id of the one before,
 * so memory and each query stay small however many messages there are. Only messages received before the
 * run began are replayed: a run ends even while new mail keeps being quarantined. Each message goes back to
 * pending through the state machine (src/store/messageState.ts), so one that a worker settled meanwhile is
 * counted as `skipped (<its state>)` and left as the worker left it.
 */
import type { Pool } from '../db/pool.js';
import { MessageStateChanged, reopenForReprocess } from '../store/messageState.js';
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

/** Messages fetched (and ids looked up) per query, unless deps.batchSize says otherwise. */
const BATCH = 500;

/** The states a replay starts from: what `tlsrpt reprocess` may select. */
type ReplayState = 'quarantined' | 'pending';

// One statement per state, with the state written out: a partial index serves a query only when its
// condition is in the statement text.
export const NEXT_BATCH: Record<ReplayState, string> = {
  quarantined: `SELECT id FROM raw_messages
                WHERE status = 'quarantined' AND id > $1 AND id <= $2 AND ($3::text IS NULL OR reason = $3)
                ORDER BY id LIMIT $4`,
  pending: `SELECT id FROM raw_messages
            WHERE status = 'pending' AND id > $1 AND id <= $2 AND ($3::text IS NULL OR reason = $3)
            ORDER BY id LIMIT $4`,
};

const COUNT: Record<ReplayState, string> = {
  quarantined: `SELECT count(*)::int AS n FROM raw_messages
                WHERE status = 'quarantined' AND id <= $1 AND ($2::text IS NULL OR reason = $2)`,
  pending: `SELECT count(*)::int AS n FROM raw_messages
            WHERE status = 'pending' AND id <= $1 AND ($2::text IS NULL OR reason = $2)`,
};

/**
 * `onProgress` is called after each message with the count done so far and the total expected: counted at
 * the start, and equal to the count done on the last call (messages that a worker settled meanwhile are not
 * replayed, and ids asked for that are settled are left alone).
 */
export async function reprocessMessages(
  deps: ProcessDeps & { pool: Pool; batchSize?: number },
  selection: ReprocessSelection,
  onProgress?: (done: number, total: number, id: number, result: ProcessResult) => void,
): Promise<ReprocessSummary> {
  const summary: ReprocessSummary = { selected: 0, outcomes: {}, stillQuarantined: {}, leftAlone: [] };
  const { pool } = deps;
  const batch = deps.batchSize ?? BATCH;
  const reason = selection.reason ?? null;

  let total: number;
  let selected: AsyncGenerator<number>;
  if (selection.ids) {
    const ids = [...new Set(selection.ids)].sort((a, b) => a - b);
    total = ids.length;
    selected = byId(pool, ids, reason, batch, summary.leftAlone);
  } else {
    const states: ReplayState[] = selection.includePending ? ['quarantined', 'pending'] : ['quarantined'];
    const last = (await pool.query<{ id: number | null }>(`SELECT max(id) AS id FROM raw_messages`)).rows[0]?.id ?? 0;
    total = 0;
    for (const state of states) total += (await pool.query<{ n: number }>(COUNT[state], [last, reason])).rows[0]!.n;
    selected = byState(pool, states, last, reason, batch);
  }

  // One message ahead: the next id is fetched before reporting progress, so the last report says so.
  let next = await selected.next();
  while (!next.done) {
    const id = next.value;
    const result = await replay(deps, id);
    summary.selected++;
    const key = result.outcome === 'skipped' ? `skipped (${result.status})` : result.outcome;
    summary.outcomes[key] = (summary.outcomes[key] ?? 0) + 1;
    if (result.outcome === 'quarantined') summary.stillQuarantined[result.reason] = (summary.stillQuarantined[result.reason] ?? 0) + 1;
    next = await selected.next();
    total = next.done ? summary.selected : Math.max(total, summary.selected + 1);
    onProgress?.(summary.selected, total, id, result);
  }
  return summary;
}

/** Back to pending with a clean slate, then processed; a message something settled meanwhile is left alone. */
async function replay(deps: ProcessDeps, id: number): Promise<ProcessResult> {
  try {
    await reopenForReprocess(deps.pool, id);
  } catch (err) {
    if (err instanceof MessageStateChanged) return { outcome: 'skipped', status: err.found, raced: true };
    throw err;
  }
  return processMessage(deps, id);
}

/** Ids asked for: found by primary key, a batch per query; those settled with a report go to `leftAlone`. */
async function* byId(pool: Pool, ids: number[], reason: string | null, batch: number, leftAlone: number[]): AsyncGenerator<number> {
  for (let i = 0; i < ids.length; i += batch) {
    const res = await pool.query<{ id: number; status: string }>(
      `SELECT id, status FROM raw_messages WHERE id = ANY($1::bigint[]) AND ($2::text IS NULL OR reason = $2) ORDER BY id`,
      [ids.slice(i, i + batch), reason],
    );
    for (const row of res.rows) {
      if (row.status === 'quarantined' || row.status === 'pending') yield row.id;
      else leftAlone.push(row.id);
    }
  }
}

/**
 * Messages in `states` up to id `last`, in id order, a batch per query; each query starts after the last id
 * of the one before, so a message replayed and quarantined again is not met twice.
 */
async function* byState(pool: Pool, states: ReplayState[], last: number, reason: string | null, batch: number): AsyncGenerator<number> {
  for (const state of states) {
    let after = 0;
    for (;;) {
      const res = await pool.query<{ id: number }>(NEXT_BATCH[state], [after, last, reason, batch]);
      for (const row of res.rows) yield row.id;
      if (res.rows.length < batch) break;
      after = res.rows[res.rows.length - 1]!.id;
    }
  }
}
