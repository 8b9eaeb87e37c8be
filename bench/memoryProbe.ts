/**
 * Child process of the memory scenario: stores one mail, runs the worker's job handler on it exactly as
 * the worker does (processMessage), and prints its own peak RSS. Run in a fresh process so the figure is
 * this report's, not the bench's.
 * Usage: tsx bench/memoryProbe.ts <database-url> <mail-file> <report-max-bytes>
 */
import { readFileSync } from 'node:fs';
import { createPool } from '../src/db/pool.js';
import { processMessage } from '../src/pipeline/processMessage.js';
import { insertRawMessage } from '../src/store/rawMessages.js';

const [databaseUrl, mailFile, maxBytes] = process.argv.slice(2);
const pool = createPool(databaseUrl!, { max: 2 });
const baselineMB = process.memoryUsage().rss / 2 ** 20;
// The mail is not kept in a variable: what is measured is the worker's memory, not the file's.
const id = await insertRawMessage(pool, readFileSync(mailFile!), { channel: 'ingest' });
const result = await processMessage({ pool, reportMaxBytes: Number(maxBytes), maxAttempts: 1 }, id);
await pool.end();
process.stdout.write(
  JSON.stringify({
    outcome: result.outcome,
    reason: result.outcome === 'quarantined' ? result.reason : null,
    baselineMB,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  }) + '\n',
);
