/**
 * Backfill: files -> raw messages -> reports, through the same durable path as SMTP.
 *
 * Each message is stored with acceptRawMessage (channel 'ingest'), the one durable write every receiver
 * shares, and then processed at once in this process with processMessage, the worker's own job handler,
 * instead of waiting for a worker to take it from the queue. That way the command knows every file's
 * outcome and can print it, and a backfill needs no running worker. If processing fails for a reason that
 * is neither the input nor an outage (a bug), the message stays pending and is handed to the queue, where
 * the worker retries it like any other; if the command is killed, the worker's sweep finds what it left
 * pending.
 *
 * "Re-running adds nothing": a message whose bytes (SHA-256) are already in raw_messages is not stored
 * again and counts as a duplicate. A message with new bytes but a report already stored (the .json.gz
 * attachment and the mail that carried it) is stored as raw mail and settled as a duplicate by the pipeline.
 */
import type { Authenticator } from '../auth/authenticateMessage.js';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { errorMessage, isServiceOutage, type QuarantineReason } from '../errors.js';
import { processMessage } from '../pipeline/processMessage.js';
import { acceptRawMessage } from '../receive/acceptRawMessage.js';
import type { IngestSource, SkippedFile } from './findIngestSources.js';
import { splitMbox } from './splitMbox.js';

export interface IngestDeps {
  pool: Pool;
  log: Logger;
  /** MAX_MESSAGE_SIZE: the same ceiling SMTP applies (answer 552); larger messages are skipped. */
  maxMessageBytes: number;
  reportMaxBytes: number;
  maxAttempts: number;
  /** DKIM verification, as in the worker (src/auth/authenticateMessage.ts); absent: not verified. */
  authenticator?: Authenticator;
  /** Hands a message that could not be processed here to the worker's queue. */
  enqueue: (rawMessageId: number) => Promise<void>;
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
  skipped: SkippedFile[];
  results: MessageResult[];
}

export interface IngestProgress {
  /** A source was opened and found to hold this many messages (an mbox may hold many). */
  onMessagesFound?(count: number): void;
  onMessageDone?(result: MessageResult): void;
}

export async function ingestSources(
  deps: IngestDeps,
  sources: readonly IngestSource[],
  skipped: readonly SkippedFile[],
  progress: IngestProgress = {},
): Promise<IngestSummary> {
  const summary = emptySummary(sources.length, skipped);
  for (const source of sources) {
    const data = await readFile(source.path);
    const messages =
      source.kind === 'mbox'
        ? splitMbox(data).map((m) => ({ label: `${source.path}:${m.index}`, raw: m.raw }))
        : [{ label: source.path, raw: data }];
    progress.onMessagesFound?.(messages.length);
    for (const m of messages) {
      const result = await ingestMessage(deps, m.label, m.raw);
      record(summary, result);
      progress.onMessageDone?.(result);
    }
  }
  return summary;
}

/** The enqueue of acceptRawMessage for ingest, which processes the message itself and queues it only if that fails. */
const processedHere = (): Promise<void> => Promise.resolve();

async function ingestMessage(deps: IngestDeps, source: string, raw: Buffer): Promise<MessageResult> {
  const base = { source, rawMessageId: null, reportId: null, reason: null, detail: null };
  if (raw.length > deps.maxMessageBytes) {
    return { ...base, outcome: 'too-large', detail: `${raw.length} bytes is more than MAX_MESSAGE_SIZE (${deps.maxMessageBytes} bytes)` };
  }
  const sha256 = createHash('sha256').update(raw).digest();
  const seen = await deps.pool.query<{ id: number; report_id: number | null }>(
    `SELECT id, report_id FROM raw_messages WHERE sha256 = $1 ORDER BY id LIMIT 1`,
    [sha256],
  );
  if (seen.rows[0]) {
    return { ...base, outcome: 'already-ingested', rawMessageId: seen.rows[0].id, reportId: seen.rows[0].report_id };
  }

  // Enqueueing is deferred to a failure below: processing happens right here.
  const id = await acceptRawMessage({ pool: deps.pool, enqueue: processedHere, log: deps.log }, raw, { channel: 'ingest' });
  try {
    const result = await processMessage(
      { pool: deps.pool, reportMaxBytes: deps.reportMaxBytes, maxAttempts: deps.maxAttempts, authenticator: deps.authenticator },
      id,
    );
    switch (result.outcome) {
      case 'stored':
      case 'duplicate':
      case 'conflict':
        return { ...base, outcome: result.outcome, rawMessageId: id, reportId: result.reportId };
      case 'quarantined':
        return { ...base, outcome: 'quarantined', rawMessageId: id, reason: result.reason, detail: result.detail };
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
    return { ...base, outcome: 'pending', rawMessageId: id, detail: errorMessage(err) };
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
    skipped: [...skipped],
    results: [],
  };
}

function record(s: IngestSummary, r: MessageResult): void {
  s.messages++;
  s.results.push(r);
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
