/**
 * A memory budget for decoding reports (issue 15 finding 1). A 248 KB mail can hold a 62 MB report with
 * 1,000,000 failure details, which costs about eight times its JSON size while it is decoded and stored (the
 * inflated bytes, the JSON text, the parsed objects, the statement sent to PostgreSQL); 16 of them at once
 * killed `serve` with "JavaScript heap out of memory", taking the SMTP and HTTP receivers down with it.
 *
 * So every message reserves what its report will cost before it is inflated, and keeps the reservation until
 * its report is stored. Reservations wait, in arrival order, while the budget is spent; small reports pass
 * at once when there is room. The cost is estimated from the attachment before inflating (exact for plain
 * JSON and for gzip, whose trailer states the inflated size; an upper bound otherwise) and corrected from the
 * real size after. A report whose cost can never fit the budget is refused as `memory-limit`.
 */
import { ReportInputError } from '../errors.js';
import { sniffCompression } from '../decompress/decompressReport.js';

/** Bytes of memory a report costs per byte of its JSON while decoded and stored (measured: 6-8). */
export const BYTES_PER_JSON_BYTE = 8;

/** The most a deflate stream can inflate per input byte (RFC 1951: 258-byte matches in ~2 bits). */
const DEFLATE_MAX_RATIO = 1032;

export interface MemoryLease {
  /** Reserves the estimated cost of inflating and decoding `attachment`; throws ReportInputError memory-limit. */
  beforeDecompress(attachment: Buffer): Promise<void>;
  /** Corrects the reservation to the real size; throws ReportInputError memory-limit. */
  afterDecompress(jsonBytes: number): Promise<void>;
  /** Gives the reservation back (idempotent). */
  release(): void;
}

export interface MemoryBudget {
  readonly totalBytes: number;
  /** Bytes reserved now. */
  inUse(): number;
  /** Reservations waiting now. */
  waiting(): number;
  /** A lease for one message, nothing reserved yet; `reportMaxBytes` bounds the estimates. */
  lease(reportMaxBytes: number): MemoryLease;
}

/**
 * How many bytes `attachment` inflates to, as far as can be told without inflating it: `exact` when the
 * format states it (plain JSON; gzip's ISIZE trailer, RFC 1952 2.3.1, when it is plausible), else an upper
 * bound (the deflate ratio limit), never above `maxBytes`, which decompression enforces anyway.
 */
export function estimateInflatedBytes(attachment: Buffer, maxBytes: number): { bytes: number; exact: boolean } {
  const bound = Math.min(maxBytes, attachment.length * DEFLATE_MAX_RATIO);
  const kind = sniffCompression(attachment);
  if (kind === 'none') return { bytes: attachment.length, exact: true };
  if (kind === 'gzip' && attachment.length >= 18) {
    const isize = attachment.readUInt32LE(attachment.length - 4);
    // A sender's trailing bytes (quirk 17) or a lying trailer give nonsense: then the bound.
    if (isize > 0 && isize <= attachment.length * DEFLATE_MAX_RATIO) return { bytes: Math.min(isize, maxBytes), exact: isize <= maxBytes };
  }
  return { bytes: bound, exact: false };
}

export function createMemoryBudget(totalBytes: number): MemoryBudget {
  let used = 0;
  const queue: Array<{ bytes: number; grant: () => void }> = [];

  const pump = () => {
    while (queue.length && used + queue[0]!.bytes <= totalBytes) {
      const next = queue.shift()!;
      used += next.bytes;
      next.grant();
    }
  };
  const acquire = (bytes: number): Promise<void> => {
    if (queue.length === 0 && used + bytes <= totalBytes) {
      used += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      queue.push({ bytes, grant: resolve });
    });
  };
  const giveBack = (bytes: number) => {
    used -= bytes;
    pump();
  };

  const refuse = (bytes: number, how: string): never => {
    throw new ReportInputError(
      'memory-limit',
      `the report ${how} ${bytes} bytes of JSON, which needs about ${bytes * BYTES_PER_JSON_BYTE} bytes of memory to decode and store, ` +
        `more than WORKER_MEMORY_BUDGET (${totalBytes} bytes) allows; raise WORKER_MEMORY_BUDGET if the sender is genuine`,
    );
  };

  return {
    totalBytes,
    inUse: () => used,
    waiting: () => queue.length,
    lease(reportMaxBytes) {
      let held = 0;
      let released = false;
      return {
        async beforeDecompress(attachment) {
          const estimate = estimateInflatedBytes(attachment, reportMaxBytes);
          const cost = estimate.bytes * BYTES_PER_JSON_BYTE + attachment.length;
          if (cost > totalBytes && estimate.exact) refuse(estimate.bytes, 'is');
          // An upper bound that does not fit runs the report alone; its real size decides after inflating.
          const want = Math.min(cost, totalBytes);
          await acquire(want);
          held = want;
        },
        async afterDecompress(jsonBytes) {
          const cost = jsonBytes * BYTES_PER_JSON_BYTE;
          if (cost > totalBytes) refuse(jsonBytes, 'inflated to');
          if (cost > held) {
            // Waiting for more while holding some could deadlock two such reports: give back, queue again.
            giveBack(held);
            held = 0;
            await acquire(cost);
            held = cost;
          } else if (cost < held) {
            giveBack(held - cost);
            held = cost;
          }
        },
        release() {
          if (released) return;
          released = true;
          giveBack(held);
          held = 0;
        },
      };
    },
  };
}
