/**
 * One log line for the first of a repeating error, then at most one line per interval with the count since the
 * last line, so that an hour-long outage leaves a trace (about 60 lines) without flooding the log with one line
 * per reconnection attempt. `settled()` writes the count not yet logged once the cause has gone (a connection
 * is back), so the end of an outage is in the log too.
 */
import { pino, type Logger } from 'pino';
import { errorMessage } from '../errors.js';

export interface RateLimitedLog {
  /** Records one occurrence; logs it if it is the first, or if the interval has passed since the last line. */
  report(err: unknown, fields?: Record<string, unknown>): void;
  /** Logs how many occurrences went unlogged, if any, and starts over: the next occurrence is a "first" again. */
  settled(message: string): void;
}

export interface RateLimitedLogOptions {
  intervalMs?: number;
  level?: 'warn' | 'error';
  /** The clock, for tests. */
  now?: () => number;
}

export const DEFAULT_LOG_INTERVAL_MS = 60_000;

export function createRateLimitedLog(log: Logger, message: string, options: RateLimitedLogOptions = {}): RateLimitedLog {
  const intervalMs = options.intervalMs ?? DEFAULT_LOG_INTERVAL_MS;
  const level = options.level ?? 'warn';
  const now = options.now ?? Date.now;
  let lastLineAt: number | null = null;
  let unlogged = 0;
  let total = 0;
  // The same error object can arrive twice (an ioredis error seen by the connection and by the BullMQ queue on it).
  let last: unknown = undefined;

  return {
    report(err, fields = {}) {
      if (err === last && err !== undefined) return;
      last = err;
      total++;
      const t = now();
      if (lastLineAt !== null && t - lastLineAt < intervalMs) {
        unlogged++;
        return;
      }
      const repeated = lastLineAt === null ? {} : { repeated: unlogged + 1, sinceSeconds: Math.round((t - lastLineAt) / 1000) };
      log[level]({ ...fields, ...repeated, err: errorMessage(err) }, message);
      lastLineAt = t;
      unlogged = 0;
    },
    settled(settledMessage) {
      if (total === 0) return;
      log.info({ occurrences: total, unlogged }, settledMessage);
      lastLineAt = null;
      unlogged = 0;
      total = 0;
      last = undefined;
    },
  };
}

let fallback: Logger | null = null;

/**
 * For connections made without a logger (command-line tools, tests): warnings as JSON lines on stderr, so that
 * a command's own output on stdout stays clean.
 */
export function fallbackLogger(): Logger {
  fallback ??= pino({ name: 'tlsrpt', level: 'warn', base: { pid: process.pid } }, pino.destination(2));
  return fallback;
}
