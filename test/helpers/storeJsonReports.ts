/**
 * Reports stored as the application stores them: each JSON received as a raw message ('ingest'), decoded,
 * then stored 16 to a statement, as the worker stores the jobs it holds. Fails on a store error.
 */
import assert from 'node:assert/strict';
import type { Pool } from '../../src/db/pool.js';
import { decodeMessage } from '../../src/pipeline/decodeMessage.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { storeReports, type StoreItem } from '../../src/store/storeReport.js';

/** The outcome of each report ('stored', 'duplicate', 'conflict'), in the order given. */
export async function storeJsonReports(pool: Pool, jsons: ReadonlyArray<Record<string, unknown>>): Promise<string[]> {
  const items: StoreItem[] = [];
  for (const json of jsons) {
    const raw = Buffer.from(JSON.stringify(json));
    const rawMessageId = await insertRawMessage(pool, raw, { channel: 'ingest' });
    items.push({ rawMessageId, decoded: await decodeMessage(raw, { reportMaxBytes: 1 << 20 }) });
  }
  const outcomes: string[] = [];
  for (let i = 0; i < items.length; i += 16) {
    for (const r of await storeReports(pool, items.slice(i, i + 16))) {
      assert.ok(!(r instanceof Error), String(r));
      outcomes.push(r.outcome);
    }
  }
  return outcomes;
}
