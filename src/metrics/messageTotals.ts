/**
 * Folds raw_messages into the running totals behind the message series of /metrics (received, processed by
 * outcome, quarantined by reason, the processing-delay histogram), kept in rollup_state.message_totals so
 * that a scrape reads them instead of the whole table (pipelineTotals.ts). The rollup job of the worker
 * processes calls it after each fold of the reports (src/rollup/rollupJob.ts).
 *
 * raw_messages are folded in id order up to a mark. An id is taken before its transaction commits, so a
 * young row with a lower id may still appear, and a pending message has no outcome yet: the mark stops
 * before the first pending message and before rows younger than FOLD_MARGIN_SECONDS (rawFoldBoundary), and
 * the scrape reads what lies past it. The mark and the totals change in one transaction, under the rollup
 * lock, so each message is counted once whichever process folds.
 */
import { withConnection, type Pool } from '../db/pool.js';
import {
  FOLD_MARGIN_SECONDS,
  NO_ID_BOUND,
  RAW_BOUNDS_SQL,
  newestOldEnough,
  type IdSample,
  addRawRows,
  decodeMessageTotals,
  encodeMessageTotals,
  rawFoldBoundary,
  readRaw,
} from './pipelineTotals.js';

/**
 * The newest raw_messages id at each pass of one process's fold, kept as long as it can still bound a later
 * search (newestOldEnough): one sample per pass, a margin's worth.
 */
export interface IdHistory {
  /** An id at or past the last message received `marginMs` ago, or null. */
  bound(marginMs: number): number | null;
  record(id: number): void;
}

export function createIdHistory(now: () => number = () => performance.now()): IdHistory {
  let samples: IdSample[] = [];
  return {
    bound(marginMs) {
      const i = newestOldEnough(samples, now(), marginMs);
      if (i < 0) return null;
      // The older samples can no longer be the newest one old enough.
      samples = samples.slice(i);
      return samples[0]!.id;
    },
    record(id) {
      samples.push({ at: now(), id });
    },
  };
}

/**
 * Folds what is final past the mark. Returns how many messages it folded, or null when another process
 * holds the rollup lock (it is folding).
 */
export async function foldMessageTotals(
  pool: Pool,
  marginSeconds: number = FOLD_MARGIN_SECONDS,
  history?: IdHistory,
): Promise<number | null> {
  return withConnection(pool, async (client) => {
    await client.query('BEGIN');
    const locked = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(rollup_lock_key()) AS ok')).rows[0]?.ok;
    if (!locked) {
      await client.query('ROLLBACK');
      return null;
    }
    const state = (
      await client.query<{ message_mark: number; message_totals: unknown }>(
        'SELECT message_mark, message_totals FROM rollup_state FOR UPDATE',
      )
    ).rows[0];
    const mark = state?.message_mark ?? 0;
    const bound = history?.bound(marginSeconds * 1000) ?? null;
    const b = (
      await client.query<{ first_pending: number | null; raw_old: number | null; newest: number | null }>(RAW_BOUNDS_SQL, [
        mark,
        marginSeconds,
        bound ?? NO_ID_BOUND,
      ])
    ).rows[0];
    if (b?.newest != null) history?.record(Number(b.newest));
    const to = rawFoldBoundary(mark, b?.first_pending ?? null, b?.raw_old ?? null);
    let folded = 0;
    if (to > mark) {
      const rows = await readRaw(client, mark, to);
      const totals = decodeMessageTotals(state?.message_totals);
      addRawRows(totals, rows);
      folded = rows.reduce((n, r) => n + r.n, 0);
      await client.query('UPDATE rollup_state SET message_mark = $1, message_totals = $2', [
        to,
        JSON.stringify(encodeMessageTotals(totals)),
      ]);
    }
    await client.query('COMMIT');
    return folded;
  });
}
