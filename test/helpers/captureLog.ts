/** A pino logger whose lines are kept as parsed objects, for tests that assert on what was logged. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export function captureLog(): { lines: Array<Record<string, unknown>>; log: Logger } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: pino({ level: 'info' }, stream) };
}
