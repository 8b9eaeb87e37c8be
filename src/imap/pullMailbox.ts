/**
 * One pass over a mailbox: every message not looked at yet is read, report mail is committed to raw_messages
 * (channel 'imap', with its mailbox, UIDVALIDITY and UID) and queued like an SMTP delivery, and only then
 * marked, moved or deleted on the server (IMAP_PROCESSED). Nothing lost: a message leaves the folder only
 * after the COMMIT that holds its bytes. Nothing twice: a message seen again (a crash between the commit and
 * the move, a second pass, a second reader) is recognised before it is fetched by its (mailbox, UIDVALIDITY,
 * UID), and after a UIDVALIDITY change, which renumbers every message (RFC 9051 section 2.3.1.1), by its raw
 * bytes' sha256, as `tlsrpt ingest` recognises a file read twice. Either way it is only settled on the server.
 *
 * Messages go in UID order, in batches of BATCH_SIZE (one lookup, one FETCH, one INSERT and one server
 * command per batch), so a first sync of 100,000 messages holds one batch in memory at a time.
 */
import { createHash } from 'node:crypto';
import type { ImapFlow } from 'imapflow';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { insertRawMessages, type RawInsert } from '../store/rawMessages.js';
import { isReportMail } from './isReportMail.js';
import type { MailboxUrl } from './mailboxUrl.js';
import type { NonReportAction, ProcessedAction } from './serverAction.js';

/** Messages per batch: one INSERT of up to this many rows (14 parameters each, far below PostgreSQL's 65,535). */
export const BATCH_SIZE = 250;
/** PostgreSQL's unique_violation SQLSTATE. */
const UNIQUE_VIOLATION = '23505';
/** Bytes fetched in one FETCH at most, so a batch of large messages does not sit in memory at once. */
const FETCH_BYTES_MAX = 32 * 1024 * 1024;

export interface PullDeps {
  pool: Pool;
  log: Logger;
  /** Hands committed ids to the worker's queue; a failure is logged and left to the sweep. */
  enqueue: (rawMessageIds: number[]) => Promise<void>;
  /** MAX_MESSAGE_SIZE: larger messages are left in the mailbox, as SMTP would refuse them (552). */
  maxMessageBytes: number;
  processed: ProcessedAction;
  nonReport: NonReportAction;
  /** True once the reader is stopping: the pass ends after the batch in progress (a first sync can be long). */
  stopping?: () => boolean;
}

/** What a reader remembers of a mailbox between passes (in memory: a new process looks at everything once). */
export interface MailboxPosition {
  uidValidity: number | null;
  /** Every UID up to this one has been dealt with under uidValidity. */
  lastUid: number;
}

export interface PullSummary {
  mailbox: string;
  /** Messages looked at in this pass. */
  examined: number;
  /** Committed to raw_messages by this pass. */
  stored: number;
  /** Found already stored (re-read after a crash, a UIDVALIDITY change, another reader): settled only. */
  alreadyStored: number;
  nonReport: number;
  tooLarge: number;
  /** The pass stopped early (stopping, or another reader raced it for a batch): pass again at once. */
  incomplete?: boolean;
}

export function newPosition(): MailboxPosition {
  return { uidValidity: null, lastUid: 0 };
}

export async function pullMailbox(deps: PullDeps, client: ImapFlow, mailbox: MailboxUrl, position: MailboxPosition): Promise<PullSummary> {
  const summary: PullSummary = { mailbox: mailbox.label, examined: 0, stored: 0, alreadyStored: 0, nonReport: 0, tooLarge: 0 };
  const lock = await client.getMailboxLock(mailbox.folder);
  try {
    const opened = client.mailbox;
    if (!opened) throw new Error(`${mailbox.label}: the folder did not open`);
    const uidValidity = Number(opened.uidValidity);
    if (position.uidValidity !== uidValidity) {
      if (position.uidValidity !== null) {
        deps.log.warn(
          { mailbox: mailbox.label, from: position.uidValidity, to: uidValidity },
          'UIDVALIDITY changed: every message is looked at again; those already stored are recognised by their bytes',
        );
      }
      position.uidValidity = uidValidity;
      position.lastUid = 0;
    }
    if (opened.exists === 0) return summary;
    const found = (await client.search({ uid: `${position.lastUid + 1}:*` }, { uid: true })) || [];
    // "n:*" always matches the highest UID, even one below n (RFC 9051 section 6.4.8): drop what was done.
    const uids = found.filter((u) => u > position.lastUid).sort((a, b) => a - b);
    for (let i = 0; i < uids.length; i += BATCH_SIZE) {
      if (deps.stopping?.()) {
        summary.incomplete = true;
        break;
      }
      const batch = uids.slice(i, i + BATCH_SIZE);
      if (!(await pullBatch(deps, client, mailbox, uidValidity, batch, summary))) {
        summary.incomplete = true;
        break;
      }
      position.lastUid = batch[batch.length - 1]!;
    }
    return summary;
  } finally {
    lock.release();
  }
}

async function pullBatch(
  deps: PullDeps,
  client: ImapFlow,
  mailbox: MailboxUrl,
  uidValidity: number,
  uids: number[],
  summary: PullSummary,
): Promise<boolean> {
  // Counted here and added to the summary only when the batch is done (a batch read again counts once).
  let alreadyStored = 0;
  let tooLarge = 0;
  const source = { mailbox: mailbox.label, uidValidity };
  const known = await deps.pool.query<{ source_uid: string }>(
    `SELECT source_uid FROM raw_messages
     WHERE source_mailbox = $1 AND source_uidvalidity = $2 AND source_uid = ANY($3::bigint[])`,
    [mailbox.label, uidValidity, uids],
  );
  const storedUids = new Set(known.rows.map((r) => Number(r.source_uid)));
  const settle: number[] = [...storedUids];
  alreadyStored += storedUids.size;
  const nonReport: number[] = [];

  const unknown = uids.filter((u) => !storedUids.has(u));
  const sizes = unknown.length ? await client.fetchAll(unknown, { uid: true, size: true }, { uid: true }) : [];
  const wanted: Array<{ uid: number; size: number }> = [];
  for (const m of sizes) {
    if ((m.size ?? 0) > deps.maxMessageBytes) {
      tooLarge++;
      deps.log.warn(
        { mailbox: mailbox.label, uid: m.uid, bytes: m.size, maxMessageBytes: deps.maxMessageBytes },
        'message larger than MAX_MESSAGE_SIZE left in the mailbox',
      );
    } else {
      wanted.push({ uid: m.uid, size: m.size ?? 0 });
    }
  }

  const reports: Array<{ uid: number; raw: Buffer; sha256: Buffer }> = [];
  for (const part of byBytes(wanted, FETCH_BYTES_MAX)) {
    const fetched = await client.fetchAll(part, { uid: true, source: true }, { uid: true });
    for (const m of fetched) {
      if (!m.source) continue; // a message expunged meanwhile: nothing to store
      if (await isReportMail(m.source)) {
        reports.push({ uid: m.uid, raw: m.source, sha256: createHash('sha256').update(m.source).digest() });
      } else {
        nonReport.push(m.uid);
      }
    }
  }

  // After a UIDVALIDITY change the stored messages come back under new UIDs: their bytes say so.
  const sameBytes = reports.length
    ? await deps.pool.query<{ sha256: Buffer }>(`SELECT DISTINCT sha256 FROM raw_messages WHERE sha256 = ANY($1::bytea[])`, [
        reports.map((r) => r.sha256),
      ])
    : { rows: [] };
  const storedBytes = new Set(sameBytes.rows.map((r) => r.sha256.toString('hex')));
  const fresh: Array<{ uid: number; raw: Buffer }> = [];
  const inBatch = new Set<string>();
  for (const r of reports) {
    const key = r.sha256.toString('hex');
    if (storedBytes.has(key) || inBatch.has(key)) {
      alreadyStored++;
      settle.push(r.uid);
    } else {
      inBatch.add(key);
      fresh.push(r);
    }
  }

  if (fresh.length) {
    const items: RawInsert[] = fresh.map((r) => ({ raw: r.raw, envelope: { channel: 'imap', source: { ...source, uid: r.uid } } }));
    let ids: number[];
    try {
      ids = await insertRawMessages(deps.pool, items);
    } catch (err) {
      if ((err as { code?: unknown }).code !== UNIQUE_VIOLATION) throw err;
      // Another reader of the same mailbox committed some of these first (raw_messages_imap_source_idx).
      // The whole INSERT was rolled back: this pass ends here, before the batch counts as done, and the next
      // pass reads the batch again and finds those rows.
      deps.log.info({ mailbox: mailbox.label }, 'another reader stored some of these messages first; reading the batch again');
      return false;
    }
    summary.stored += ids.length;
    settle.push(...fresh.map((r) => r.uid));
    // Awaited (a pass is not in a hurry, and `--once` closes the queue after it); a failure is only logged.
    await deps.enqueue(ids).catch((err: unknown) => {
      deps.log.warn(
        { mailbox: mailbox.label, count: ids.length, err: errorMessage(err) },
        'stored messages not enqueued; the sweep will enqueue them',
      );
    });
  }

  // Only now, with every report of the batch committed, does the server hear about them.
  await settleOnServer(client, settle, deps.processed);
  if (deps.nonReport.kind === 'move') await settleOnServer(client, nonReport, deps.nonReport);
  summary.examined += uids.length;
  summary.alreadyStored += alreadyStored;
  summary.tooLarge += tooLarge;
  summary.nonReport += nonReport.length;
  return true;
}

/** Splits messages into runs of at most `max` bytes (a single larger message is a run of its own). */
function byBytes(messages: Array<{ uid: number; size: number }>, max: number): number[][] {
  const runs: number[][] = [];
  let run: number[] = [];
  let bytes = 0;
  for (const m of messages) {
    if (run.length && bytes + m.size > max) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(m.uid);
    bytes += m.size;
  }
  if (run.length) runs.push(run);
  return runs;
}

const createdFolders = new WeakMap<ImapFlow, Set<string>>();

async function settleOnServer(client: ImapFlow, uids: number[], action: ProcessedAction | NonReportAction): Promise<void> {
  if (uids.length === 0) return;
  switch (action.kind) {
    case 'leave':
      return;
    case 'seen':
      await client.messageFlagsAdd(uids, ['\\Seen'], { uid: true });
      return;
    case 'delete':
      await client.messageDelete(uids, { uid: true });
      return;
    case 'move': {
      await ensureFolder(client, action.folder);
      const moved = await client.messageMove(uids, action.folder, { uid: true });
      if (!moved) throw new Error(`the server did not move ${uids.length} message(s) to "${action.folder}"`);
      return;
    }
  }
}

/** Creates a move target once per connection; an existing folder is fine (imapflow reports it, no error). */
async function ensureFolder(client: ImapFlow, folder: string): Promise<void> {
  let created = createdFolders.get(client);
  if (!created) createdFolders.set(client, (created = new Set()));
  if (created.has(folder)) return;
  await client.mailboxCreate(folder);
  created.add(folder);
}
