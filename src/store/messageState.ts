/**
 * The raw_messages state machine (migrations/0001 lists the states). Every change of a message's state goes
 * through this module: the transitions below are the only ones there are, and each UPDATE names the states
 * it leaves (`WHERE id = $1 AND status = 'pending'`) and checks its row count. So when a worker, `tlsrpt
 * reprocess` and `tlsrpt ingest` race on one message, the first to settle it wins and the others are told
 * (MessageStateChanged): a settled message is never overwritten.
 *
 *   pending --settle-----> stored | duplicate | conflict   (settled for good: no transition leaves them)
 *   pending --quarantine-> quarantined
 *   pending --retry------> pending                        (a failed attempt counted)
 *   quarantined | pending --reprocess--> pending          (a clean slate before the replay)
 *
 * The settle transition is written by the report store's own statements (src/store/storeReport.ts), which
 * take their state condition from here (sqlLeaving).
 */
import type { Pool, PoolClient } from '../db/pool.js';
import { TlsrptError, type QuarantineReason } from '../errors.js';

export type MessageStatus = 'pending' | 'stored' | 'duplicate' | 'conflict' | 'quarantined';

export const MESSAGE_STATUSES: readonly MessageStatus[] = ['pending', 'stored', 'duplicate', 'conflict', 'quarantined'];

interface Transition {
  readonly from: readonly MessageStatus[];
  readonly to: readonly MessageStatus[];
  /** Who makes it, and when. */
  readonly by: string;
}

/** Every transition a raw message can make: the one table. */
export const TRANSITIONS = {
  settle: {
    from: ['pending'],
    to: ['stored', 'duplicate', 'conflict'],
    by: 'the worker, ingest or reprocess stored its report, or found the same identity stored before',
  },
  quarantine: {
    from: ['pending'],
    to: ['quarantined'],
    by: 'the input is bad, or processing failed WORKER_MAX_ATTEMPTS times',
  },
  retry: { from: ['pending'], to: ['pending'], by: 'a failed attempt is counted; the job is retried' },
  reprocess: { from: ['quarantined', 'pending'], to: ['pending'], by: 'tlsrpt reprocess, before it replays the message' },
} as const satisfies Record<string, Transition>;

export type TransitionName = keyof typeof TRANSITIONS;

/** Whether a message in `status` may make `transition` (the decision every UPDATE below makes in SQL). */
export function mayMake(transition: TransitionName, status: MessageStatus): boolean {
  return (TRANSITIONS[transition].from as readonly MessageStatus[]).includes(status);
}

/**
 * The SQL condition "the message is in a state `transition` leaves", for statements that write a transition
 * together with other rows (the report store). `column` may be qualified (`raw_messages.status`).
 */
export function sqlLeaving(transition: TransitionName, column = 'status'): string {
  return `${column} IN (${TRANSITIONS[transition].from.map((s) => `'${s}'`).join(', ')})`;
}

/**
 * A transition lost a race: the message was no longer in a state the transition leaves (another process
 * settled or reopened it first). Nothing was written; the message stays as the other process left it.
 */
export class MessageStateChanged extends TlsrptError {
  override readonly name = 'MessageStateChanged';
  constructor(
    readonly rawMessageId: number,
    readonly transition: TransitionName,
    readonly found: MessageStatus | 'missing',
  ) {
    super(
      'message-state-changed',
      `raw message ${rawMessageId} is ${found}, not ${TRANSITIONS[transition].from.join(' or ')}: another process ` +
        `(a worker, tlsrpt reprocess or tlsrpt ingest) changed it first, so "${transition}" was not applied; ` +
        `see it with "tlsrpt quarantine show ${rawMessageId}"`,
    );
  }
}

type Queryable = Pool | PoolClient;

const MAX_TEXT = 4000;

/** pending -> quarantined, with the reason code and a detail a person can act on. */
export async function quarantineMessage(db: Queryable, id: number, reason: QuarantineReason, detail: string): Promise<void> {
  const res = await db.query(
    `UPDATE raw_messages SET status = 'quarantined', reason = $2, detail = $3, processed_at = now(), report_id = NULL
     WHERE id = $1 AND ${sqlLeaving('quarantine')}`,
    [id, reason, detail.slice(0, MAX_TEXT)],
  );
  if (res.rowCount !== 1) throw await stateChanged(db, id, 'quarantine');
}

/** pending -> pending: counts an attempt and its error, so a message that is still retrying shows why. */
export async function recordAttempt(db: Queryable, id: number, error: string | null): Promise<void> {
  const res = await db.query(`UPDATE raw_messages SET attempts = attempts + 1, last_error = $2 WHERE id = $1 AND ${sqlLeaving('retry')}`, [
    id,
    error?.slice(0, MAX_TEXT) ?? null,
  ]);
  if (res.rowCount !== 1) throw await stateChanged(db, id, 'retry');
}

/** quarantined | pending -> pending with a clean slate (no reason, no attempts): what `tlsrpt reprocess` replays. */
export async function reopenForReprocess(db: Queryable, id: number): Promise<void> {
  const res = await db.query(
    `UPDATE raw_messages SET status = 'pending', reason = NULL, detail = NULL, attempts = 0, last_error = NULL
     WHERE id = $1 AND ${sqlLeaving('reprocess')}`,
    [id],
  );
  if (res.rowCount !== 1) throw await stateChanged(db, id, 'reprocess');
}

/** The error for a transition that changed no row, naming the state the message is actually in. */
export async function stateChanged(db: Queryable, id: number, transition: TransitionName): Promise<MessageStateChanged> {
  const res = await db.query<{ status: MessageStatus }>(`SELECT status FROM raw_messages WHERE id = $1`, [id]);
  return new MessageStateChanged(id, transition, res.rows[0]?.status ?? 'missing');
}
