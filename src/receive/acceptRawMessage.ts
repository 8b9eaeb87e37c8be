/**
 * The one durable write that every receiver (SMTP, HTTPS, `tlsrpt ingest`) shares: commit the raw bytes,
 * then hand the id to the queue. The caller acknowledges the sender only after this resolves.
 *
 * Enqueueing is not awaited: the row is the durable record, and a job lost because Redis was down or the
 * process died is re-enqueued by the sweep (src/queue/sweepStranded.ts). So a Redis outage never turns
 * into a refused report.
 */
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { insertRawMessage, type Envelope } from '../store/rawMessages.js';

export interface AcceptDeps {
  pool: Pool;
  /** Commits the raw message, possibly together with others (group commit); defaults to one INSERT. */
  insert?: (raw: Buffer, envelope: Envelope) => Promise<number>;
  enqueue: (rawMessageId: number) => Promise<unknown>;
  log: Logger;
}

export async function acceptRawMessage(deps: AcceptDeps, raw: Buffer, envelope: Envelope): Promise<number> {
  const id = deps.insert ? await deps.insert(raw, envelope) : await insertRawMessage(deps.pool, raw, envelope);
  deps.enqueue(id).catch((err) => {
    deps.log.warn({ rawMessageId: id, err: errorMessage(err) }, 'stored message not enqueued; the sweep will enqueue it');
  });
  return id;
}
