/**
 * The raw_messages table: the durable record of everything received (see migrations/0001). Written here
 * once, by the INSERT behind every acknowledgement; its state changes only through ./messageState.ts.
 */
import { createHash } from 'node:crypto';
import type { MessageAuthentication } from '../auth/verifyDkim.js';
import type { Pool } from '../db/pool.js';
import type { MessageStatus } from './messageState.js';

export type { MessageStatus } from './messageState.js';
export type Channel = 'smtp' | 'http' | 'ingest' | 'imap';

/**
 * Where a message pulled rather than received came from (migrations/0009): an IMAP mailbox's message
 * (mailbox, UIDVALIDITY, UID) or an ingested file's message (file, position: 1-based in an mbox).
 */
export interface MessageSource {
  /** The mailbox as `imap://USER@HOST:PORT/FOLDER` (never the password). */
  mailbox?: string;
  uidValidity?: number;
  uid?: number;
  file?: string;
  position?: number;
}

export interface Envelope {
  channel: Channel;
  remoteAddress?: string | null;
  helo?: string | null;
  mailFrom?: string | null;
  rcptTo?: string[];
  source?: MessageSource;
  /** What the intake already knows of the sender (an HTTPS POST's token, HTTP_REPORT_TOKENS). */
  authentication?: MessageAuthentication | null;
}

export interface RawMessage {
  id: number;
  channel: Channel;
  status: MessageStatus;
  raw: Buffer;
  attempts: number;
  /** The client's address (SMTP, HTTPS); what HTTP_TRUSTED_CLIENTS is matched against. */
  remoteAddress?: string | null;
  /** When it was received: how long a DKIM lookup failure is retried is counted from it. */
  receivedAt?: Date;
  /** raw_messages.authentication: what the intake recorded (a POST's token), or an earlier verification. */
  authentication?: MessageAuthentication | null;
}

/** The durable write behind every "250 queued as <id>": one INSERT, committed when it returns. */
export async function insertRawMessage(pool: Pool, raw: Buffer, envelope: Envelope): Promise<number> {
  const [id] = await insertRawMessages(pool, [{ raw, envelope }]);
  return id!;
}

export interface RawInsert {
  raw: Buffer;
  envelope: Envelope;
  /** SHA-256 of `raw`, when the caller has it already (ingest looks duplicates up by it first). */
  sha256?: Buffer;
}

/**
 * Several raw messages in one INSERT (one commit): the receiver's group commit. Returns the ids in input
 * order: a single statement draws the ids from the sequence row by row in VALUES order, so sorting the
 * returned ids restores the order whatever order RETURNING uses.
 */
/** Parameters per message in insertRawMessages. */
const RAW_COLUMNS = 14;

export async function insertRawMessages(pool: Pool, items: RawInsert[]): Promise<number[]> {
  if (items.length === 0) return [];
  const params: unknown[] = [];
  const rows = items.map(({ raw, envelope, sha256 }) => {
    const base = params.length;
    params.push(
      envelope.channel,
      envelope.remoteAddress ?? null,
      envelope.helo ?? null,
      envelope.mailFrom ?? null,
      envelope.rcptTo ?? [],
      raw.length,
      sha256 ?? createHash('sha256').update(raw).digest(),
      raw,
      envelope.authentication ? JSON.stringify(envelope.authentication) : null,
      envelope.source?.mailbox ?? null,
      envelope.source?.uidValidity ?? null,
      envelope.source?.uid ?? null,
      envelope.source?.file ?? null,
      envelope.source?.position ?? null,
    );
    return `(${Array.from({ length: RAW_COLUMNS }, (_, i) => `$${base + i + 1}`).join(', ')})`;
  });
  const res = await pool.query<{ id: number }>(
    `INSERT INTO raw_messages (channel, remote_address, helo, mail_from, rcpt_to, size_bytes, sha256, raw, authentication,
       source_mailbox, source_uidvalidity, source_uid, source_file, source_position)
     VALUES ${rows.join(', ')} RETURNING id`,
    params,
  );
  return res.rows.map((r) => r.id).sort((a, b) => a - b);
}

export async function loadRawMessage(pool: Pool, id: number): Promise<RawMessage | null> {
  const [message] = await loadRawMessages(pool, [id]);
  return message ?? null;
}

/**
 * Several messages in one query (the worker loads the messages of the jobs it holds together); one entry
 * per id, in order, null for an id with no row.
 */
export async function loadRawMessages(pool: Pool, ids: number[]): Promise<Array<RawMessage | null>> {
  const res = await pool.query<RawMessage>({
    name: 'tlsrpt-load-raw-v2',
    text: `SELECT id, channel, status, raw, attempts, remote_address AS "remoteAddress", received_at AS "receivedAt", authentication
           FROM raw_messages WHERE id = ANY($1::bigint[])`,
    values: [ids],
  });
  const byId = new Map(res.rows.map((m) => [m.id, m]));
  return ids.map((id) => byId.get(id) ?? null);
}

/** Pending messages received before `olderThanMs` ago, oldest first: what the sweep re-enqueues. */
export async function listStrandedIds(pool: Pool, olderThanMs: number, limit: number, afterId = 0): Promise<number[]> {
  const res = await pool.query<{ id: number }>(
    `SELECT id FROM raw_messages
     WHERE status = 'pending' AND id > $3 AND received_at < now() - make_interval(secs => $1::float8 / 1000)
     ORDER BY id LIMIT $2`,
    [olderThanMs, limit, afterId],
  );
  return res.rows.map((r) => r.id);
}
