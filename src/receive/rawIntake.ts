/**
 * How receivers commit raw messages and queue them, shared by SMTP and HTTPS: messages that arrive while a
 * commit runs are committed together by the next one (one INSERT, one WAL flush), and their ids go to
 * Redis in one addBulk, as jobs of up to JOB_MAX_MESSAGES messages each (not one job per message). Each sender still gets its reply only after the COMMIT that holds its message.
 * Each commit and round trip costs PostgreSQL CPU, which one-message-one-commit would pay per report
 * (README "Benchmarks" has the figures).
 */
import type { Queue } from 'bullmq';
import type { Pool } from '../db/pool.js';
import { createGroupCommit, createGroupRun } from '../db/groupCommit.js';
import { enqueueRawMessages, type ReportJob } from '../queue/reportQueue.js';
import { insertRawMessages, type Envelope, type RawInsert } from '../store/rawMessages.js';
import type { AcceptDeps } from './acceptRawMessage.js';

/** Raw messages committed together at most: bounds the statement size (14 parameters a message). */
const RAW_GROUP_MAX = 64;
/** Message ids handed to one addBulk at most (in jobs of JOB_MAX_MESSAGES). */
const ENQUEUE_GROUP_MAX = 256;

export function createRawIntake(pool: Pool, queue: Queue<ReportJob>): Pick<AcceptDeps, 'insert' | 'enqueue'> {
  const rawGroup = createGroupCommit((items: RawInsert[]) => insertRawMessages(pool, items), RAW_GROUP_MAX);
  const enqueueGroup = createGroupRun((ids: number[]) => enqueueRawMessages(queue, ids), ENQUEUE_GROUP_MAX);
  return {
    insert: (raw: Buffer, envelope: Envelope) => rawGroup.submit({ raw, envelope }),
    enqueue: (id: number) => enqueueGroup.submit(id),
  };
}
