/**
 * How receivers commit raw messages and queue them, shared by SMTP and HTTPS: messages that arrive while a
 * commit runs are committed together by the next one (one INSERT, one WAL flush), and their ids go to
 * Redis in one round trip, as jobs of up to JOB_MAX_MESSAGES messages each (not one job per message). Each
 * sender still gets its reply only after the COMMIT that holds its message.
 * Each commit and round trip costs PostgreSQL CPU, which one-message-one-commit would pay per report
 * (README "Benchmarks" has the figures).
 */
import type { Queue } from 'bullmq';
import type { Pool } from '../db/pool.js';
import { createGroupCommit, createGroupRun } from '../db/groupCommit.js';
import { enqueueRawMessages, type ReportJob } from '../queue/reportQueue.js';
import { insertRawMessages, type Envelope, type RawInsert } from '../store/rawMessages.js';
import type { AcceptDeps } from './acceptRawMessage.js';
import { TlsrptError } from '../errors.js';

/** Raw messages committed together at most: bounds the statement size (14 parameters a message). */
const RAW_GROUP_MAX = 64;
/** Message ids handed to one enqueue at most (in jobs of JOB_MAX_MESSAGES). */
const ENQUEUE_GROUP_MAX = 256;

export interface RawIntakeOptions {
  /**
   * Time limit of a commit, from the sender's point of view (SMTP_COMMIT_TIMEOUT_SECONDS): past it the
   * insert is rejected with CommitTimeout and the receiver answers 451, instead of leaving the sender waiting
   * on a hung database (15 s and more in issue 15 finding 2). The commit itself is not cancelled: if it
   * completes later, the message is stored and processed, and the sender's retry is a duplicate report,
   * counted once.
   */
  commitTimeoutMs?: number;
}

/** The commit did not complete within its time limit; the outcome is unknown to the sender, who retries. */
export class CommitTimeout extends TlsrptError {
  override readonly name = 'CommitTimeout';
  constructor(ms: number) {
    super(
      'commit-timeout',
      `storing the message took longer than ${ms / 1000} s (SMTP_COMMIT_TIMEOUT_SECONDS): is PostgreSQL hung or overloaded?`,
    );
  }
}

export function createRawIntake(
  pool: Pool,
  queue: Queue<ReportJob>,
  options: RawIntakeOptions = {},
): Pick<AcceptDeps, 'insert' | 'enqueue'> {
  const rawGroup = createGroupCommit((items: RawInsert[]) => insertRawMessages(pool, items), RAW_GROUP_MAX);
  const enqueueGroup = createGroupRun((ids: number[]) => enqueueRawMessages(queue, ids), ENQUEUE_GROUP_MAX);
  const limit = options.commitTimeoutMs;
  return {
    insert: (raw: Buffer, envelope: Envelope) => {
      const commit = rawGroup.submit({ raw, envelope });
      return limit ? withTimeLimit(commit, limit) : commit;
    },
    enqueue: (id: number) => enqueueGroup.submit(id),
  };
}

function withTimeLimit<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CommitTimeout(ms)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
