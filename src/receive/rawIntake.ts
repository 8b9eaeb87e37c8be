/**
 * How receivers commit raw messages and queue them, shared by SMTP and HTTPS: messages that arrive while a
 * commit runs are committed together by the next one (one INSERT, one WAL flush), and their ids go to
 * Redis as jobs of up to JOB_MAX_MESSAGES messages each (not one job per message), gathered over a few
 * milliseconds. Each sender still gets its reply only after the COMMIT that holds its message.
 * Each commit and round trip costs PostgreSQL CPU, which one-message-one-commit would pay per report
 * (README "Benchmarks" has the figures).
 */
import type { Queue } from 'bullmq';
import type { Pool } from '../db/pool.js';
import { createGroupCommit, createGroupRun } from '../db/groupCommit.js';
import { JOB_MAX_MESSAGES, enqueueRawMessages, type ReportJob } from '../queue/reportQueue.js';
import { insertRawMessages, type Envelope, type RawInsert } from '../store/rawMessages.js';
import type { AcceptDeps } from './acceptRawMessage.js';
import { TlsrptError } from '../errors.js';

/** Raw messages committed together at most: bounds the statement size (14 parameters a message). */
const RAW_GROUP_MAX = 64;
/**
 * How long a committed message waits for others to share its job. No sender waits for the enqueue (the
 * reply follows the commit), and a job's Redis round trips, and the worker's load of its messages, are paid
 * per job: jobs of a group commit each (7 messages with 16 busy connections) cost more CPU per report than
 * jobs of what 25 ms bring (README "Measurements behind the code"). A full job leaves at once.
 */
const ENQUEUE_LINGER_MS = 25;
/**
 * How long stopping waits for the last enqueues: Redis may be down (then an enqueue waits for it), and what
 * it does not take, the sweep queues later.
 */
const ENQUEUE_DRAIN_MS = 2000;

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

export interface RawIntake extends Pick<AcceptDeps, 'insert' | 'enqueue'> {
  /** Enqueues at once what lingers, and waits (up to 2 s) for the enqueues in flight: before the queue is closed. */
  drain(): Promise<void>;
}

export function createRawIntake(pool: Pool, queue: Queue<ReportJob>, options: RawIntakeOptions = {}): RawIntake {
  const rawGroup = createGroupCommit((items: RawInsert[]) => insertRawMessages(pool, items), RAW_GROUP_MAX);
  const enqueueGroup = createGroupRun((ids: number[]) => enqueueRawMessages(queue, ids), JOB_MAX_MESSAGES, {
    lingerMs: ENQUEUE_LINGER_MS,
  });
  const limit = options.commitTimeoutMs;
  return {
    insert: (raw: Buffer, envelope: Envelope) => {
      const commit = rawGroup.submit({ raw, envelope });
      return limit ? withTimeLimit(commit, limit) : commit;
    },
    enqueue: (id: number) => enqueueGroup.submit(id),
    // Past the limit the enqueues are left to the sweep: nothing of a stop waits on Redis for longer.
    drain: () => withTimeLimit(enqueueGroup.drain(), ENQUEUE_DRAIN_MS).catch(() => undefined),
  };
}

function withTimeLimit<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CommitTimeout(ms)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
