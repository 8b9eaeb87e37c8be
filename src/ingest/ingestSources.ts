/**
 * Backfill: files -> raw messages -> reports, through the same durable path as SMTP, in batches like the
 * worker, with memory that does not grow with the size of the files.
 *
 * Messages are read as a stream (an mbox one message at a time, see ./splitMbox.ts) and taken in batches,
 * the stages of consecutive batches overlapping on connections of their own:
 * 1. accept: the batch's SHA-256s are looked up in one query, its new messages committed in one INSERT
 *    (channel 'ingest', with the file and position they came from). Batches are accepted one after the
 *    other, so a message repeated in a later batch finds the earlier one's row. It runs while the batch
 *    before is parsed and stored.
 * 2. process: each new message goes through processMessage, the worker's own job handler (decode, then
 *    store or quarantine: the one retry-versus-quarantine decision), with the bytes in hand instead of a
 *    reload. Reports are stored in groups of STORE_BATCH with the worker's batched statement (storeReports:
 *    one statement, one commit), in file order, each group while the next is parsed; at most
 *    REPORTS_IN_HAND decoded reports wait for their statement, so memory does not follow PostgreSQL's pace.
 * 3. fold: stored reports are folded into the daily totals as they accumulate, on a third connection
 *    (./rollupFolder.ts), and the rest at the end, so the totals are right when the command returns.
 * The command processes the messages itself rather than waiting for a worker, so it knows every message's
 * outcome and a backfill needs no running worker (nor Redis). If processing fails for a reason that is
 * neither the input nor an outage (a bug), the message stays pending and is handed to the queue, where the
 * worker retries it like any other. If the command is killed, what it committed stays pending: the
 * worker's sweep finds it, or a second run settles it (below).
 *
 * "Re-running adds nothing": a message whose bytes (SHA-256) are already in raw_messages is not stored
 * again and counts as a duplicate, unless its row is still pending from before this run (a run that was
 * killed): then it is processed now, from its row, and the state machine (src/store/messageState.ts) lets
 * only one of this run and a worker settle it. A message with new bytes but a report already stored (the
 * .json.gz attachment and the mail that carried it) is stored as raw mail and settled as a duplicate by the
 * pipeline.
 *
 * Backfilled reports are history: the ones whose date range ended longer than ALERT_MAX_REPORT_AGE before
 * they were stored join no alert window (src/alert/store/windowStore.ts); the summary says how many.
 */
import type { Authenticator } from '../auth/authenticateMessage.js';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { countReportsTooOldToAlert } from '../alert/store/windowStore.js';
import type { Pool } from '../db/pool.js';
import { errorMessage, isServiceOutage, type QuarantineReason } from '../errors.js';
import { processMessage, type ProcessDeps } from '../pipeline/processMessage.js';
import { insertRawMessages, type MessageStatus, type RawMessage } from '../store/rawMessages.js';
import { storeReports, type StoreItem, type StoreResult } from '../store/storeReport.js';
import { IngestPathError, type IngestSource, type SkippedFile } from './findIngestSources.js';
import { createRollupFolder } from './rollupFolder.js';
import { readMboxFile } from './splitMbox.js';

export interface IngestDeps {
  pool: Pool;
  log: Logger;
  /** MAX_MESSAGE_SIZE: the same ceiling SMTP applies (answer 552); larger messages are skipped. */
  maxMessageBytes: number;
  reportMaxBytes: number;
  maxAttempts: number;
  /** ALERT_MAX_REPORT_AGE in ms, for the count of stored reports too old to alert (unset: no limit, none counted). */
  maxReportAgeMs?: number | null;
  /** DKIM verification, as in the worker (src/auth/authenticateMessage.ts); absent: not verified. */
  authenticator?: Authenticator;
  /** Hands a message that could not be processed here to the worker's queue. */
  enqueue: (rawMessageId: number) => Promise<void>;
  /** Messages per batch; the default suits report mail of a few kilobytes. */
  batchSize?: number;
  /** New reports per fold into the daily totals while the backfill runs (./rollupFolder.ts); for tests. */
  foldBatch?: number;
}

export type MessageOutcome =
  | 'stored'
  | 'duplicate' // the same report was stored before, from other bytes (RFC 8460 4.4 identity)
  | 'already-ingested' // these exact bytes were received before: not stored again
  | 'conflict'
  | 'quarantined'
  | 'pending' // processing failed unexpectedly; left to the worker's retries
  | 'too-large';

export interface MessageResult {
  /** The file, or "file:N" for the N-th message of an mbox. */
  source: string;
  outcome: MessageOutcome;
  rawMessageId: number | null;
  reportId: number | null;
  reason: QuarantineReason | null;
  detail: string | null;
}

export interface IngestSummary {
  files: number;
  messages: number;
  stored: number;
  /** already-ingested + duplicate report */
  duplicate: number;
  alreadyIngested: number;
  duplicateReport: number;
  conflict: number;
  quarantined: number;
  quarantinedByReason: Record<string, number>;
  pending: number;
  tooLarge: number;
  /** Stored reports whose date range ended longer than ALERT_MAX_REPORT_AGE before they were stored: no alert. */
  tooOldToAlert: number;
  skipped: SkippedFile[];
  /** Every message's outcome, in file order; empty unless asked for (it grows with the number of messages). */
  results: MessageResult[];
}

export interface IngestProgress {
  /** Before the first message: the bytes of all the sources, for a progress bar. */
  onStart?(info: { files: number; bytesTotal: number }): void;
  onMessageDone?(result: MessageResult): void;
  /** After each batch: the bytes of the sources read up to its last message, and the messages done. */
  onBatchDone?(info: { bytesDone: number; messages: number }): void;
}

export interface IngestOptions {
  /** Keep every message's outcome in the summary (--format json). Memory then grows by about 200 bytes a message. */
  keepResults?: boolean;
}

const DEFAULT_BATCH = 256;
/**
 * A batch also ends at this many bytes of mail: a mailbox export holds large non-report mail too (a few
 * megabytes each, up to MAX_MESSAGE_SIZE), and 256 of those in hand would be gigabytes. Measured on a
 * 0.3 GB export of 3 MiB mails: peak RSS 393 MB with 16 MiB batches, about 260 MB with 4 MiB.
 */
const BATCH_BYTES = 4 * 2 ** 20;
/** Batches being processed while the next is read and accepted: Node parses one while PostgreSQL stores the other. */
const BATCHES_IN_FLIGHT = 2;
/**
 * Reports per store statement. The batch statement's PostgreSQL time per report grows with the batch past a
 * few dozen reports (README "Measurements behind the code"), and a smaller group is stored while the next
 * one of the same batch is parsed.
 */
const STORE_BATCH = 64;
/** Messages of a batch being parsed at once. */
const PARSES_PER_BATCH = 16;
/**
 * Decoded reports held at once, waiting for their group's statement: two groups, one being stored while the
 * next is parsed. Without a bound, parsing runs ahead of a slow store by every message in flight, and what
 * the process holds (and the heap V8 grows for it) follows PostgreSQL's pace instead of a fixed budget.
 */
const REPORTS_IN_HAND = 2 * STORE_BATCH;

/** A message read from a source, not yet stored. */
interface SourceMessage {
  label: string;
  file: string;
  /** 1-based position in an mbox; 1 for a file holding one message. */
  position: number;
  /** null: over MAX_MESSAGE_SIZE, not read into memory. */
  raw: Buffer | null;
  size: number;
  /** Bytes of all the sources read up to the end of this message. */
  bytesDone: number;
}

export async function ingestSources(
  deps: IngestDeps,
  sources: readonly IngestSource[],
  skipped: readonly SkippedFile[],
  progress: IngestProgress = {},
  options: IngestOptions = {},
): Promise<IngestSummary> {
  const keepResults = options.keepResults ?? true;
  const summary = emptySummary(sources.length, skipped);
  const sizes = await Promise.all(sources.map((s) => fileSize(s.path)));
  progress.onStart?.({ files: sources.length, bytesTotal: sizes.reduce((a, b) => a + b, 0) });

  const batchSize = deps.batchSize ?? DEFAULT_BATCH;
  const folder = createRollupFolder(deps.pool, deps.log, { foldBatch: deps.foldBatch });
  // Reports are handed over in file order (each waits for its turn: the message before it has handed its
  // report over or finished without one), and each group's reports are stored in one statement after the
  // previous group's. The first copy of a report identity in the files is then the one stored and later
  // copies are duplicates or conflicts, as when messages went one by one, however the parses interleave.
  let lastTurn: Promise<void> = Promise.resolve();
  let lastStore: Promise<void> = Promise.resolve();
  const takeTurns = (count: number): Turn[] =>
    Array.from({ length: count }, () => {
      const turn = createTurn(lastTurn);
      lastTurn = turn.passed;
      return turn;
    });
  /** A batch's messages are stored in groups of STORE_BATCH, each group once its last message has passed its turn. */
  const storesFor = (turns: readonly Turn[]): StoreFor => {
    const groups: Array<ReturnType<typeof createGroupStore>> = [];
    for (let g = 0; g < turns.length; g += STORE_BATCH) {
      const group = createGroupStore(deps.pool, turns.slice(g, g + STORE_BATCH), lastStore, (n) => folder.stored(n));
      lastStore = group.stored;
      groups.push(group);
    }
    return (i) => {
      const group = groups[Math.floor(i / STORE_BATCH)]!;
      return { store: group.storeFor(turns[i]!), stored: group.stored };
    };
  };

  let accepting: Promise<unknown> = Promise.resolve();
  const inFlight: Array<Promise<BatchDone>> = [];
  const settleOldest = async () => {
    const done = await inFlight.shift()!;
    for (const r of done.results) {
      record(summary, r, keepResults);
      progress.onMessageDone?.(r);
    }
    summary.tooOldToAlert += done.tooOldToAlert;
    progress.onBatchDone?.({ bytesDone: done.bytesDone, messages: summary.messages });
  };
  const run: RunState = { firstId: null, takenUp: new Set() };
  // Taken in file order (each batch asks for all its messages when it starts, after the batch before), and
  // given back when a message's group is stored: the earliest messages always get theirs, so a group is
  // never left waiting for a place held by a later one.
  const reportsInHand = createSlots(REPORTS_IN_HAND);
  const launch = async (batch: SourceMessage[]) => {
    if (inFlight.length >= BATCHES_IN_FLIGHT) await settleOldest();
    // Accepting is chained: this batch's duplicate lookup runs after the previous batch's INSERT committed.
    const turns = takeTurns(batch.length);
    const storeFor = storesFor(turns);
    const accepted = accepting.then(() => acceptBatch(deps, batch, run));
    accepting = accepted.catch(() => {
      // The error is the batch's own, rethrown by settleOldest; the next batches must not wait for its turns.
      for (const t of turns) t.pass();
    });
    const done = accepted.then((a) => processBatch(deps, reportsInHand, storeFor, turns, batch, a));
    // Marked handled now (settleOldest awaits it later and rethrows its error): a batch that fails while the
    // next is being read must not count as an unhandled rejection.
    done.catch(() => undefined);
    inFlight.push(done);
  };

  try {
    let batch: SourceMessage[] = [];
    let batchBytes = 0;
    for await (const m of readSourceMessages(sources, sizes, deps.maxMessageBytes)) {
      batch.push(m);
      batchBytes += m.raw?.length ?? 0;
      if (batch.length >= batchSize || batchBytes >= BATCH_BYTES) {
        await launch(batch);
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length) await launch(batch);
    while (inFlight.length) await settleOldest();
    // What is still queued for the daily totals, so that `tlsrpt stats` right after shows it (a running
    // worker would fold it within seconds; one folding already leaves it to that one).
    await folder.finish();
  } catch (err) {
    // An outage or an unreadable file stops the run: the batches still running finish (or fail) first, so
    // nothing is left writing behind the error. Their messages are committed, and a worker's sweep or a
    // second run settles them.
    await Promise.allSettled(inFlight);
    throw err;
  }
  return summary;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    throw new IngestPathError(`cannot read "${path}": ${errorMessage(err)}`, { cause: err });
  }
}

async function* readSourceMessages(
  sources: readonly IngestSource[],
  sizes: number[],
  maxMessageBytes: number,
): AsyncGenerator<SourceMessage> {
  let before = 0;
  for (const [i, source] of sources.entries()) {
    const file = source.path;
    const size = sizes[i]!;
    if (source.kind === 'mbox') {
      for await (const m of readMboxFile(file, maxMessageBytes)) {
        yield { label: `${file}:${m.index}`, file, position: m.index, raw: m.raw, size: m.size, bytesDone: before + m.endOffset };
      }
    } else {
      // A file over the ceiling is not even read: SMTP would refuse it before the end of DATA.
      const raw = size > maxMessageBytes ? null : await readFile(file);
      yield { label: file, file, position: 1, raw, size, bytesDone: before + size };
    }
    before += size;
  }
}

/** What the accept step decided for each message of a batch. */
type Accepted =
  | { kind: 'done'; result: MessageResult }
  /** Committed now with this id: to be processed, with the bytes in hand. */
  | { kind: 'new'; id: number }
  /**
   * Received before this run and still pending (a run that was stopped, a message a worker has not reached):
   * processed again, from its row, as the worker's sweep would. The state machine settles it once whoever
   * gets there first.
   */
  | { kind: 'pending'; id: number }
  /** Its bytes were received before (or earlier in this batch: `sameAs` is that message's index). */
  | { kind: 'seen'; id: number; reportId: number | null; sameAs: number | null };

/** What accepting learns across batches. */
interface RunState {
  /** The first raw message id this run committed: a pending row from before it is not in anyone's hands here. */
  firstId: number | null;
  /** Pending rows from before this run that it took up: a later copy of the same bytes is already ingested. */
  takenUp: Set<number>;
}

async function acceptBatch(deps: IngestDeps, batch: readonly SourceMessage[], run: RunState): Promise<Accepted[]> {
  const base = { rawMessageId: null, reportId: null, reason: null, detail: null };
  const shas: Array<Buffer | null> = batch.map((m) => (m.raw ? createHash('sha256').update(m.raw).digest() : null));
  const known = shas.filter((s): s is Buffer => s !== null);
  const seen = new Map<string, { id: number; report_id: number | null; status: MessageStatus }>();
  if (known.length) {
    const res = await deps.pool.query<{ sha256: Buffer; id: number; report_id: number | null; status: MessageStatus }>({
      name: 'tlsrpt-ingest-seen-v2',
      text: `SELECT DISTINCT ON (sha256) sha256, id, report_id, status FROM raw_messages WHERE sha256 = ANY($1::bytea[]) ORDER BY sha256, id`,
      values: [known],
    });
    for (const row of res.rows) seen.set(row.sha256.toString('hex'), row);
  }

  const accepted: Array<Accepted | null> = [];
  const firstInBatch = new Map<string, number>();
  const fresh: number[] = [];
  batch.forEach((m, i) => {
    if (!m.raw) {
      const detail = `${m.size} bytes is more than MAX_MESSAGE_SIZE (${deps.maxMessageBytes} bytes)`;
      accepted.push({ kind: 'done', result: { ...base, source: m.label, outcome: 'too-large', detail } });
      return;
    }
    const hex = shas[i]!.toString('hex');
    const before = seen.get(hex);
    const earlier = firstInBatch.get(hex);
    const leftPending = before?.status === 'pending' && (run.firstId === null || before.id < run.firstId) && !run.takenUp.has(before.id);
    if (before && leftPending && earlier === undefined) {
      // Left pending by an earlier run (or not yet reached by a worker): settled now, once.
      firstInBatch.set(hex, i);
      run.takenUp.add(before.id);
      accepted.push({ kind: 'pending', id: before.id });
    } else if (before) accepted.push({ kind: 'seen', id: before.id, reportId: before.report_id, sameAs: earlier ?? null });
    else if (earlier !== undefined) accepted.push({ kind: 'seen', id: 0, reportId: null, sameAs: earlier });
    else {
      firstInBatch.set(hex, i);
      fresh.push(i);
      accepted.push(null);
    }
  });
  const ids = await insertRawMessages(
    deps.pool,
    fresh.map((i) => {
      const m = batch[i]!;
      return { raw: m.raw!, sha256: shas[i]!, envelope: { channel: 'ingest', source: { file: m.file, position: m.position } } };
    }),
  );
  if (ids.length) run.firstId ??= ids[0]!;
  fresh.forEach((i, k) => {
    accepted[i] = { kind: 'new', id: ids[k]! };
  });
  return accepted.map((a) => a!);
}

interface BatchDone {
  results: MessageResult[];
  tooOldToAlert: number;
  bytesDone: number;
}

/** A message's place in the order reports are handed to the group commit. */
interface Turn {
  /** Resolves when the message before has passed its turn. */
  wait: Promise<void>;
  /** Resolves when this message has passed its own. */
  passed: Promise<void>;
  /** Idempotent. */
  pass(): void;
}

function createTurn(previous: Promise<void>): Turn {
  let pass!: () => void;
  const passed = new Promise<void>((resolve) => {
    pass = resolve;
  });
  return { wait: previous, passed, pass };
}

/** The store of the message at an index of its batch, and when its group's statement has run. */
type StoreFor = (index: number) => { store: NonNullable<ProcessDeps['store']>; stored: Promise<void> };

/**
 * The reports of one group of messages, stored with one storeReports statement (one commit) once every
 * message of the group has passed its turn, and after the previous group's statement. A report's result, or
 * the Error of storing it, goes back to its message's processMessage, which decides as the worker does.
 * `onStored` hears how many new reports the statement stored (queued for the daily totals).
 */
function createGroupStore(
  pool: Pool,
  turns: readonly Turn[],
  previous: Promise<void>,
  onStored: (count: number) => void,
): { storeFor: (turn: Turn) => NonNullable<ProcessDeps['store']>; stored: Promise<void> } {
  const items: StoreItem[] = [];
  const waiting: Array<{ resolve: (r: StoreResult | Error) => void; reject: (err: unknown) => void }> = [];
  const stored = Promise.all([previous, turns[turns.length - 1]!.passed]).then(async () => {
    if (items.length === 0) return;
    try {
      const results = await storeReports(pool, items);
      onStored(results.filter((r) => !(r instanceof Error) && r.outcome === 'stored').length);
      results.forEach((r, k) => waiting[k]!.resolve(r));
    } catch (err) {
      // An outage: every message of the group gets it, and processMessage rethrows it.
      for (const w of waiting) w.reject(err);
    }
  });
  const storeFor =
    (turn: Turn) =>
    async (rawMessageId: number, decoded: StoreItem['decoded']): Promise<StoreResult> => {
      await turn.wait;
      const result = new Promise<StoreResult | Error>((resolve, reject) => {
        items.push({ rawMessageId, decoded });
        waiting.push({ resolve, reject });
      });
      turn.pass();
      const r = await result;
      if (r instanceof Error) throw r;
      return r;
    };
  return { storeFor, stored };
}

interface Slots {
  acquire(): Promise<void>;
  release(): void;
}

/** A counting semaphore: at most `n` holders; waiters are served in the order they asked. */
function createSlots(n: number): Slots {
  let free = n;
  const waiters: Array<() => void> = [];
  return {
    acquire: () => {
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    release: () => {
      const next = waiters.shift();
      if (next) next();
      else free++;
    },
  };
}

async function processBatch(
  deps: IngestDeps,
  reportsInHand: Slots,
  storeFor: StoreFor,
  turns: readonly Turn[],
  batch: readonly SourceMessage[],
  accepted: readonly Accepted[],
): Promise<BatchDone> {
  // A few messages are parsed at a time, in order: a parse holds the whole mail and its parts, so 256 at
  // once would hold hundreds of megabytes, for no gain on a machine with few cores. A message gives its
  // slot back once it has handed its report over (it then only waits for its group's statement).
  const slots = createSlots(PARSES_PER_BATCH);
  const settled = await Promise.allSettled(
    accepted.map(async (a, i): Promise<MessageResult | null> => {
      const turn = turns[i]!;
      try {
        if (a.kind !== 'new' && a.kind !== 'pending') return null;
        const { store, stored } = storeFor(i);
        await reportsInHand.acquire();
        void stored.then(() => reportsInHand.release());
        await slots.acquire();
        void turn.passed.then(() => slots.release());
        return await processOne(deps, store, batch[i]!, a.id, a.kind === 'new');
      } finally {
        // Quarantined, failed, or nothing to process: no report to hand over, the next message may go.
        await turn.wait;
        turn.pass();
      }
    }),
  );
  // An outage stops the run (every message of the batch is committed; a second run or the sweep finishes it).
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const processed = settled.map((s) => (s as PromiseFulfilledResult<MessageResult | null>).value);

  const results = accepted.map((a, i): MessageResult => {
    const source = batch[i]!.label;
    if (a.kind === 'done') return a.result;
    if (a.kind === 'new' || a.kind === 'pending') return processed[i]!;
    const same = a.sameAs === null ? null : processed[a.sameAs]!;
    return {
      source,
      outcome: 'already-ingested',
      rawMessageId: same ? same.rawMessageId : a.id,
      reportId: same ? same.reportId : a.reportId,
      reason: null,
      detail: null,
    };
  });
  const storedIds = results.filter((r) => r.outcome === 'stored' && r.reportId !== null).map((r) => r.reportId!);
  const tooOldToAlert = await countReportsTooOldToAlert(deps.pool, storedIds, deps.maxReportAgeMs ?? null);
  return { results, tooOldToAlert, bytesDone: batch[batch.length - 1]!.bytesDone };
}

async function processOne(
  deps: IngestDeps,
  store: NonNullable<ProcessDeps['store']>,
  m: SourceMessage,
  id: number,
  committedNow: boolean,
): Promise<MessageResult> {
  const source = m.label;
  const base = { source, rawMessageId: id, reportId: null, reason: null, detail: null };
  // A row committed a moment ago holds these bytes: no need to read them back. One from before this run is
  // read as it is (its channel, attempts and what its intake recorded). A message that another process
  // settles meanwhile is still caught by the state checks of the store and the quarantine.
  const inHand: RawMessage = { id, channel: 'ingest', status: 'pending', raw: m.raw!, attempts: 0 };
  const processDeps: ProcessDeps = {
    pool: deps.pool,
    reportMaxBytes: deps.reportMaxBytes,
    maxAttempts: deps.maxAttempts,
    load: committedNow ? () => Promise.resolve(inHand) : undefined,
    store,
    authenticator: deps.authenticator,
  };
  try {
    const result = await processMessage(processDeps, id);
    switch (result.outcome) {
      case 'stored':
      case 'duplicate':
      case 'conflict':
        return { ...base, outcome: result.outcome, reportId: result.reportId };
      case 'quarantined':
        return { ...base, outcome: 'quarantined', reason: result.reason, detail: result.detail };
      case 'skipped':
        // Settled meanwhile by a worker's sweep: report what it decided.
        return await settledElsewhere(deps.pool, source, id);
    }
  } catch (err) {
    if (isServiceOutage(err)) throw err;
    deps.log.warn({ rawMessageId: id, source, err: errorMessage(err) }, 'ingest: processing failed; handing the message to the worker');
    await deps.enqueue(id).catch((qErr: unknown) => {
      deps.log.warn({ rawMessageId: id, err: errorMessage(qErr) }, 'ingest: not enqueued; the worker sweep will pick it up');
    });
    return { ...base, outcome: 'pending', detail: errorMessage(err) };
  }
}

async function settledElsewhere(pool: Pool, source: string, id: number): Promise<MessageResult> {
  const row = (
    await pool.query<{ status: string; reason: QuarantineReason | null; detail: string | null; report_id: number | null }>(
      `SELECT status, reason, detail, report_id FROM raw_messages WHERE id = $1`,
      [id],
    )
  ).rows[0];
  const outcome = (row?.status ?? 'pending') as MessageOutcome;
  return { source, outcome, rawMessageId: id, reportId: row?.report_id ?? null, reason: row?.reason ?? null, detail: row?.detail ?? null };
}

function emptySummary(files: number, skipped: readonly SkippedFile[]): IngestSummary {
  return {
    files,
    messages: 0,
    stored: 0,
    duplicate: 0,
    alreadyIngested: 0,
    duplicateReport: 0,
    conflict: 0,
    quarantined: 0,
    quarantinedByReason: {},
    pending: 0,
    tooLarge: 0,
    tooOldToAlert: 0,
    skipped: [...skipped],
    results: [],
  };
}

function record(s: IngestSummary, r: MessageResult, keepResults: boolean): void {
  s.messages++;
  if (keepResults) s.results.push(r);
  switch (r.outcome) {
    case 'stored':
      s.stored++;
      break;
    case 'already-ingested':
      s.duplicate++;
      s.alreadyIngested++;
      break;
    case 'duplicate':
      s.duplicate++;
      s.duplicateReport++;
      break;
    case 'conflict':
      s.conflict++;
      break;
    case 'quarantined': {
      s.quarantined++;
      const reason = r.reason ?? 'unknown';
      s.quarantinedByReason[reason] = (s.quarantinedByReason[reason] ?? 0) + 1;
      break;
    }
    case 'pending':
      s.pending++;
      break;
    case 'too-large':
      s.tooLarge++;
      break;
  }
}
